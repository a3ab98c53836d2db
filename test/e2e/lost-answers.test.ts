import { afterEach, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, workspace, type Workspace } from '../support/harness.js';

const TOKEN = 'lost-token';

let target: DevTarget | undefined;

afterEach(async () => {
  await target?.stop();
  target = undefined;
});

/** A target without unique userNames: a create sent twice makes two accounts. */
async function lenientTarget(): Promise<{ target: DevTarget; ws: Workspace }> {
  target = await startDevTarget({ token: TOKEN, strict: true, uniqueUserNames: false, seed: 11 });
  const ws = workspace(target.url, TOKEN);
  ws.writeConfig({ targetYaml: 'timeoutMs: 1500' });
  return { target, ws };
}

/** How many accounts each userName has in the target. */
function accountsPerUserName(t: DevTarget): Map<string, number> {
  const out = new Map<string, number>();
  for (const u of t.users.values()) out.set(String(u.userName), (out.get(String(u.userName)) ?? 0) + 1);
  return out;
}

describe('a create whose answer is lost', () => {
  it('is looked up before it is sent again: 300 users, 30% of creates stored then answered late or with 502 or HTML, one account each', async () => {
    const { target: t, ws } = await lenientTarget();
    const d = makeDirectory(300);
    ws.writeDirectory(d);
    // Each fault stores the user, then loses the answer; together about 30% of the creates.
    t.inject({ method: 'POST', path: /\/Users$/, rate: 0.1, afterApply: { status: 502 } });
    t.inject({ method: 'POST', path: /\/Users$/, rate: 0.11, afterApply: { html: true } });
    t.inject({ method: 'POST', path: /\/Users$/, rate: 0.125, afterApply: { delayMs: 3_000 } });

    const first = await ws.run(['sync']);
    expect(first.err.join('\n')).not.toMatch(/unexpected error|\n\s+at /);
    t.clearFaults();
    const lostPosts = t.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/Users') && r.status !== 201).length;
    expect(lostPosts).toBeGreaterThan(45);

    const second = await ws.run(['sync']);
    expect(second.out.join('\n') + (await ws.run(['events', '--result', 'failure'])).out.join('\n')).toMatch(/failed 0/);
    expect(second.code).toBe(0);
    const counts = accountsPerUserName(t);
    expect(counts.size).toBe(300);
    expect([...counts.entries()].filter(([, n]) => n > 1)).toEqual([]);
    // The accounts whose answer was lost are linked, not held as ambiguous.
    expect(second.out.join('\n')).toMatch(/held 0/);
    const third = await ws.run(['sync']);
    expect(third.out.join('\n')).toMatch(/created 0, adopted 0, updated 0/);
  }, 60_000);

  it('answered 201 without an id is looked up in the same cycle and linked', async () => {
    const { target: t, ws } = await lenientTarget();
    const d = makeDirectory(3);
    ws.writeDirectory(d);
    t.inject({ method: 'POST', path: /\/Users$/, times: 1, afterApply: { status: 201, body: '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}' } });

    const first = await ws.run(['sync']);
    expect(first.code).toBe(0);
    expect(first.out.join('\n')).toMatch(/created 3,/);
    expect(accountsPerUserName(t).size).toBe(3);
    expect(t.users.size).toBe(3);
    // Linked now: the next cycle sends nothing at all.
    t.requests.length = 0;
    const second = await ws.run(['sync']);
    expect(second.out.join('\n') + (await ws.run(['events', '--result', 'failure'])).out.join('\n')).toMatch(/failed 0/);
    expect(second.code).toBe(0);
    expect(t.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('says in the event that the account was found after the answer was lost', async () => {
    const { target: t, ws } = await lenientTarget();
    ws.writeDirectory(makeDirectory(1));
    t.inject({ method: 'POST', path: /\/Users$/, times: 1, afterApply: { status: 502 } });
    const run = await ws.run(['sync']);
    expect(run.code).toBe(0);
    expect(t.users.size).toBe(1);
    const events = await ws.run(['events', '--type', 'user_create_provision']);
    expect(events.out.join('\n')).toMatch(/answer to the create was lost/);
  });
});
