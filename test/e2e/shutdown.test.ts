import { afterEach, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { requireBuild, runBuiltCli } from '../support/cli.js';
import { makeDirectory, workspace, type Workspace } from '../support/harness.js';

const TOKEN = 'trickle-token';

let target: DevTarget | undefined;

requireBuild();
afterEach(async () => {
  await target?.stop();
  target = undefined;
});

/** A target whose answers to creates trickle in, one byte a second. */
async function trickling(extraYaml: string): Promise<Workspace> {
  target = await startDevTarget({ token: TOKEN, strict: true });
  target.inject({ method: 'POST', path: /\/Users$/, trickle: { intervalMs: 1_000 } });
  target.inject({ method: 'GET', path: /\/Users\?filter/, trickle: { intervalMs: 1_000 } });
  const ws = workspace(target.url, TOKEN);
  ws.writeConfig({ targetYaml: extraYaml });
  ws.writeDirectory(makeDirectory(2));
  return ws;
}

describe('a target that trickles its answers', () => {
  it('cannot keep a request open past timeoutMs: the sync ends by itself', async () => {
    const ws = await trickling('timeoutMs: 500');
    const run = await runBuiltCli(ws, TOKEN);
    expect(run.code).toBe(1);
    // Two users, each a create and the look-ups that follow a lost answer: a few timeouts of 0.5 s, not minutes.
    expect(run.ms).toBeLessThan(15_000);
    expect(run.stdout).toMatch(/failed 2/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('cannot hold a SIGTERM past the shutdown grace: the summary is printed and the process exits', async () => {
    const ws = await trickling('timeoutMs: 600000');
    const config = (await import('node:fs')).readFileSync(ws.configPath, 'utf8');
    (await import('node:fs')).writeFileSync(ws.configPath, `${config}shutdown: { graceMs: 1000 }\n`);
    // SIGTERM while a create trickles in: the request would take minutes, the grace is 1 s.
    const run = await runBuiltCli(ws, TOKEN, { signalWhen: () => target!.concurrency.now > 0 });
    expect(run.code).toBe(1);
    expect(run.stopMs ?? 0).toBeLessThan(5_000);
    expect(run.stdout).toMatch(/interrupted/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);
});
