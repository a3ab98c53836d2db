import { afterEach, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { workspace } from '../support/harness.js';

/**
 * A 409 that adoption cannot resolve: the target says the user is a duplicate, but no
 * account it could collide with can be found (another account holds its externalId
 * under other names, say). The user is kept in escrow with what to fix, and the next
 * cycle does not read the whole target again to look for it.
 */
const TOKEN = 'conflict-token';
let target: DevTarget | undefined;

afterEach(async () => {
  await target?.stop();
  target = undefined;
});

/** Reads of the whole user list (paged, no filter): what an unresolved 409 must not repeat every cycle. */
const fullReads = (t: DevTarget) => t.requests.filter((r) => r.method === 'GET' && /\/Users(\?|$)/.test(r.path) && !r.path.includes('filter=')).length;

describe('a create the target refuses as a duplicate of an account nobody can find', () => {
  it('is kept in escrow with what to fix, and later cycles do not read the whole target again', async () => {
    target = await startDevTarget({ token: TOKEN, strict: true });
    const ws = workspace(target.url, TOKEN);
    ws.writeConfig({});
    ws.writeDirectory({ users: [{ id: 'ada', userName: 'ada@example.com', givenName: 'Ada', familyName: 'Lovelace', email: 'ada@example.com' }] });
    target.inject({ method: 'POST', path: /\/Users$/, status: 409, scimType: 'uniqueness', detail: 'externalId is already taken', times: 100 });

    const first = await ws.run(['sync']);
    expect(first.code).toBe(1);
    expect(fullReads(target)).toBe(1);
    const events = await ws.run(['events', '--result', 'failure', '--json']);
    const failure = events.out.map((l) => JSON.parse(l) as { summary: string; detail: { status?: number; unresolvedConflict?: boolean } }).find((e) => e.detail.unresolvedConflict);
    expect(failure?.summary).toMatch(/ada@example\.com not created: the target refuses it as a duplicate \(HTTP 409 uniqueness: externalId is already taken\).*fix or remove that account, or change the mapping/);
    expect(failure?.detail.status).toBe(409);

    target.requests.length = 0;
    const second = await ws.run(['sync']);
    expect(second.code).toBe(1);
    // The create is tried again (the app may have been fixed), its lookups too; the whole list is not read again.
    expect(target.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(fullReads(target)).toBe(0);
    const status = JSON.parse((await ws.run(['status', '--json'])).out[0]!) as { escrow: { sourceId: string; lastError: string; cycles: number }[] };
    expect(status.escrow).toMatchObject([{ sourceId: 'ada', cycles: 2 }]);
    expect(status.escrow[0]!.lastError).toMatch(/externalId is already taken/);

    // Fixed in the app: the next cycle creates the user.
    target.clearFaults();
    const third = await ws.run(['sync']);
    expect(third.code).toBe(0);
    expect([...target.users.values()].map((u) => u.userName)).toEqual(['ada@example.com']);
  });
});
