import { afterEach, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, workspace } from '../support/harness.js';

/**
 * Many new users on a first run: one paginated read of the target can match them all,
 * where a lookup per user would cost more. Deciding which must not itself cost a full page.
 */
const TOKEN = 'first-run-token';
let target: DevTarget | undefined;

afterEach(async () => {
  await target?.stop();
  target = undefined;
});

const listReads = (t: DevTarget) => t.requests.filter((r) => r.method === 'GET' && /\/Users\?/.test(r.path) && !r.path.includes('filter='));

async function start(accounts: number) {
  target = await startDevTarget({ token: TOKEN, strict: true });
  for (let i = 0; i < accounts; i++) {
    target.seedUser({ userName: `other${i}@example.com`, name: { givenName: 'O', familyName: `Other${i}` }, emails: [{ type: 'work', value: `other${i}@example.com`, primary: true }], active: true });
  }
  const ws = workspace(target.url, TOKEN);
  ws.writeConfig({});
  return { t: target, ws };
}

describe('the first run decides between one read of the target and a lookup per user', () => {
  it('asks for one account to learn how many there are, and reads no page when lookups are cheaper', async () => {
    const { t, ws } = await start(600);
    ws.writeDirectory(makeDirectory(6));
    t.requests.length = 0;
    const res = await ws.run(['sync']);
    expect(res.code).toBe(0);
    // 600 accounts are 6 pages: more than 6 new users are worth. One question of count=1, then lookups.
    expect(listReads(t).map((r) => r.path)).toEqual([expect.stringMatching(/\/Users\?startIndex=1&count=1$/)]);
    expect(t.requests.filter((r) => r.method === 'GET' && r.path.includes('filter=')).length).toBeGreaterThanOrEqual(6);
    expect(t.requests.filter((r) => r.method === 'POST')).toHaveLength(6);
  });

  it('reads the whole target when that is cheaper, and then looks nobody up', async () => {
    const { t, ws } = await start(150);
    ws.writeDirectory(makeDirectory(20));
    t.requests.length = 0;
    const res = await ws.run(['sync']);
    expect(res.code).toBe(0);
    const reads = listReads(t).map((r) => r.path);
    expect(reads[0]).toMatch(/\/Users\?startIndex=1&count=1$/);
    expect(reads.slice(1).every((p) => /count=100/.test(p))).toBe(true);
    expect(reads.length).toBeLessThanOrEqual(1 + 3);
    expect(t.requests.filter((r) => r.method === 'GET' && r.path.includes('filter='))).toHaveLength(0);
    expect(t.requests.filter((r) => r.method === 'POST')).toHaveLength(20);
  });
});
