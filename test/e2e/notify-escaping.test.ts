/**
 * What a Slack webhook is sent, through the built CLI: a target's answer and a
 * source's text end up in notifications, and Slack reads `<!channel>` as a
 * mention of everyone and `<url|label>` as a link showing only its label.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { useTargetPerTest } from '../support/target.js';
import { requireBuild, runBuiltCli } from '../support/cli.js';
import { configHead, makeDirectory, type Workspace } from '../support/harness.js';
import { startHttpReceiver, waitFor, type HttpReceiver } from '../events/support.js';

const TOKEN = 'notify-escaping-token';
const HOSTILE = 'userName <!channel> is taken; sign in at <https://evil.example/login|the admin console> & retry';

const targetPerTest = useTargetPerTest(TOKEN);
let receiver: HttpReceiver | undefined;

requireBuild();
afterEach(async () => {
  await receiver?.stop().catch(() => undefined);
  receiver = undefined;
});

/** A target that refuses every create with `HOSTILE` as its SCIM detail; the create is given up at once, which the rule tells. */
async function setup(format: 'slack' | 'teams' | 'json'): Promise<Workspace> {
  const { t: target, ws } = await targetPerTest();
  target.inject({ method: 'POST', path: /\/Users$/, status: 400, scimType: 'uniqueness', detail: HOSTILE });
  receiver = await startHttpReceiver();
  ws.writeDirectory(makeDirectory(1));
  ws.writeConfig({
    raw: [
      ...configHead(ws, { targetUrl: target.url }),
      '    escrow: { maxCycles: 1 }',
      'notify:',
      `  - { on: [givenUp], webhook: "${receiver.url}", format: ${format} }`,
      '',
    ].join('\n'),
  });
  return ws;
}

describe('a notification carrying text from outside', () => {
  it('is escaped as Slack requires in a Slack message: no mention of everyone, no disguised link', async () => {
    const ws = await setup('slack');
    const run = await runBuiltCli(ws, TOKEN);
    expect(run.code).toBe(1);
    await waitFor(() => receiver!.requests.length > 0, 'the Slack message');
    const { text } = JSON.parse(receiver!.requests[0]!.body) as { text: string };
    expect(text).toContain('given up');
    expect(text).toContain('userName &lt;!channel&gt; is taken; sign in at &lt;https://evil.example/login|the admin console&gt; &amp; retry');
    expect(text).not.toMatch(/[<>]/);
    expect(text).not.toMatch(/&(?!amp;|lt;|gt;)/);
  }, 60_000);

  it("is escaped for Teams' Markdown in a Teams message, not with Slack's entities (Teams shows those as typed)", async () => {
    const ws = await setup('teams');
    await runBuiltCli(ws, TOKEN);
    await waitFor(() => receiver!.requests.length > 0, 'the Teams message');
    const { text } = JSON.parse(receiver!.requests[0]!.body) as { text: string };
    expect(text).toContain('userName \\<!channel\\> is taken; sign in at \\<https://evil.example/login|the admin console\\> & retry');
    expect(text).not.toContain('&lt;');
  }, 60_000);

  it('keeps its own text in a JSON message: JSON is the escaping, the receiver decides how to show it', async () => {
    const ws = await setup('json');
    await runBuiltCli(ws, TOKEN);
    await waitFor(() => receiver!.requests.length > 0, 'the JSON message');
    const body = JSON.parse(receiver!.requests[0]!.body) as { kind: string; text: string; reason: string };
    expect(body.kind).toBe('givenUp');
    expect(body.reason).toContain(HOSTILE);
    expect(body.text).toContain(HOSTILE);
  }, 60_000);
});
