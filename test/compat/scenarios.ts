import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirectory, workspace, type Directory, type Workspace } from '../support/harness.js';
import {
  applyChanges,
  byExternalId,
  callsDuring,
  compatDirectory,
  deleteState,
  expectServerMatches,
  failures,
  reconcileReport,
  writesIn,
  type Changes,
} from './directory.js';
import type { CompatServer } from './servers/server.js';

/** The scenarios of the suite, by name. */
export type Scenario =
  | 'first sync'
  | 'no-op cycle'
  | 'reconcile clean'
  | 'change cycle'
  | 'hand edit repaired'
  | 'state rebuild'
  | 'adoption'
  | 'first value of a typed attribute'
  | 'test-connection'
  | 'refused credentials';

/** One server of the compatibility suite: how to start it, and what a user configures for it. */
export interface CompatTarget {
  /** e.g. `better-auth 1.7.5 (@better-auth/scim 1.7.5)` */
  name: string;
  /** Starts the server; one that makes its own token says so in `CompatServer.token`. */
  start(token: string): Promise<CompatServer>;
  /** Lines under `target:` a user of this server sets (profile options). */
  targetYaml?: string;
  /**
   * The server returns no group members on GET (against RFC 7643 §4.2, where
   * `members` is returned by default): reconcile and `state rebuild` cannot see
   * memberships, so the first cycle after a rebuild sends the member additions again.
   */
  hidesMembers?: boolean;
  /**
   * Scenarios that fail against this server because scimsync is wrong (not the
   * server), each with the reason: they run as `it.fails` until scimsync is fixed.
   */
  scimsyncDefects?: Partial<Record<Scenario, string>>;
}

/**
 * The scenarios every server runs (like hono's shared router suite): what a user
 * notices in the server's own data after each scimsync command, and how many
 * requests the server received.
 */
export function compatScenarios(target: CompatTarget, context: { server: () => CompatServer }): void {
  const newWorkspace = (options: { token?: string } = {}): Workspace => {
    const server = context.server();
    const ws = workspace(server.url, options.token ?? server.token);
    ws.writeConfig(target.targetYaml ? { targetYaml: target.targetYaml } : {});
    return ws;
  };
  const scenario = (name: Scenario, title: string, body: () => Promise<void>) => {
    const defect = target.scimsyncDefects?.[name];
    if (defect) it.fails(`${title} [fails: scimsync defect: ${defect}]`, body);
    else it(title, body);
  };

  describe(`${target.name}: a directory of 200 users in 4 groups, cycle after cycle`, () => {
    let server: CompatServer;
    let ws: Workspace;
    let d: Directory;
    let changes: Changes;
    beforeAll(async () => {
      server = context.server();
      await server.reset();
      ws = newWorkspace();
      d = compatDirectory();
      ws.writeDirectory(d);
    });

    scenario('first sync', 'the first sync creates every user and every group with its members', async () => {
      const run = await callsDuring(server, ws, ['sync']);
      expect(run.err).toBe('');
      expect(await failures(ws)).toEqual([]);
      expect(run.code).toBe(0);
      expect(run.out).toMatch(/created 200, adopted 0, .* failed 0/);
      await expectServerMatches(server, d);
      expect((await server.users()).length).toBe(200);
    });

    scenario('no-op cycle', 'the next cycle sends no request at all', async () => {
      const run = await callsDuring(server, ws, ['sync']);
      expect(run.code).toBe(0);
      expect(run.calls).toEqual([]);
    });

    scenario('reconcile clean', 'reconcile right after the sync finds nothing to fix, with reads only', async () => {
      server.calls.length = 0;
      const report = await reconcileReport(ws);
      expect(writesIn(server.calls)).toEqual([]);
      expect({ drift: report.drift, vanished: report.vanished, unmanaged: report.unmanaged, groupDrift: report.groupDrift }).toEqual({ drift: [], vanished: [], unmanaged: [], groupDrift: [] });
      expect(report.vanishedGroups).toEqual([]);
    });

    scenario('change cycle', 'a change cycle applies edits, a deactivation, a removal, a rename and membership changes, then sends nothing', async () => {
      changes = applyChanges(d);
      ws.writeDirectory(d);
      const run = await callsDuring(server, ws, ['sync']);
      expect(await failures(ws)).toEqual([]);
      expect(run.code).toBe(0);
      expect(run.out).toMatch(/created 0, adopted 0, updated \d+, deactivated 2, .* failed 0/);
      await expectServerMatches(server, d, [changes.removed]);
      const linked = byExternalId(await server.users());
      expect(linked.get(changes.deactivated)!.active).toBe(false);
      expect(linked.get(changes.renamed)!.userName).toBe('user6.renamed@example.com');
      expect((await server.groups()).map((g) => g.displayName).sort()).toEqual(['Customer Support', 'Engineering', 'Managers', 'Sales']);
      // Only what changed was sent: 3 user edits, 2 deactivations, 2 group changes.
      expect(writesIn(run.calls).length).toBeLessThan(12);

      const idle = await callsDuring(server, ws, ['sync']);
      expect(idle.code).toBe(0);
      expect(idle.calls).toEqual([]);
    });

    scenario('hand edit repaired', 'a hand edit on the server is reported by reconcile and repaired by reconcile --apply', async () => {
      const linked = byExternalId(await server.users());
      await server.editUser(linked.get('u00020')!.id, { title: 'Hand edited' });
      await server.editUser(linked.get('u00021')!.id, { active: false });
      server.calls.length = 0;
      const report = await reconcileReport(ws);
      expect(writesIn(server.calls)).toEqual([]);
      expect(report.drift).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ sourceId: 'u00020', path: 'title', actual: 'Hand edited' }),
          expect.objectContaining({ sourceId: 'u00021', path: 'active', pushed: 'true', actual: 'false' }),
        ]),
      );
      expect(report.drift).toHaveLength(2);

      const applied = await callsDuring(server, ws, ['reconcile', '--apply']);
      expect(applied.code).toBe(0);
      expect(applied.out).toMatch(/success: created 0, adopted 0, updated 1, deactivated 0, reactivated 1/);
      expect(writesIn(applied.calls)).toHaveLength(2);
      await expectServerMatches(server, d, [changes.removed]);
      const idle = await callsDuring(server, ws, ['sync']);
      expect(idle.calls).toEqual([]);
    });

    scenario('state rebuild', 'state rebuild relinks everything with reads only, and the next sync sends nothing', async () => {
      deleteState(ws);
      const rebuilt = await callsDuring(server, ws, ['state', 'rebuild', 'app']);
      expect(rebuilt.err).toBe('');
      expect(rebuilt.code).toBe(0);
      expect(rebuilt.out).toMatch(/state rebuilt from \d+ reads, no writes: 199 users linked \(1 inactive\), 4 groups with \d+ memberships/);
      expect(writesIn(rebuilt.calls)).toEqual([]);
      const next = await callsDuring(server, ws, ['sync']);
      expect(next.code).toBe(0);
      if (target.hidesMembers) {
        // The memberships it could not read are sent again, as additions only, and nothing else.
        expect(next.calls.filter((c) => !(c.method === 'PATCH' && /\/Groups\/[^/]+$/.test(c.path)))).toEqual([]);
        expect((await callsDuring(server, ws, ['sync'])).calls).toEqual([]);
      } else {
        expect(next.calls).toEqual([]);
      }
      await expectServerMatches(server, d, [changes.removed]);
    });
  });

  describe(`${target.name}: accounts that already exist`, () => {
    scenario('adoption', 'links existing accounts, one under a userName in another case, updates them, creates the rest, then sends nothing', async () => {
      const server = context.server();
      await server.reset();
      const d = makeDirectory(30);
      const seeded = new Map<string, string>();
      // In order, so that a manager's account exists before the accounts that report to it.
      for (const [i, u] of d.users.slice(0, 12).entries()) {
        const managerId = u.managerId === undefined ? undefined : seeded.get(u.managerId);
        const account = await server.seedUser({
          userName: i % 4 === 0 ? u.userName.toUpperCase() : u.userName,
          givenName: u.givenName!,
          familyName: u.familyName!,
          email: u.email!,
          ...(u.phone !== undefined ? { phone: u.phone } : {}),
          title: i % 3 === 1 ? 'Outdated' : u.title!,
          ...(managerId !== undefined ? { managerId } : {}),
        });
        seeded.set(u.id, account.id);
      }
      const stranger = await server.seedUser({ userName: 'stranger@example.com', givenName: 'S', familyName: 'T', email: 'stranger@example.com' });
      const ws = newWorkspace();
      ws.writeDirectory(d);

      const run = await callsDuring(server, ws, ['sync']);
      expect(await failures(ws)).toEqual([]);
      expect(run.code).toBe(0);
      expect(run.out).toMatch(/created 18, adopted 12, .* failed 0/);
      const users = await server.users();
      expect(users).toHaveLength(31);
      for (const [sourceId, id] of seeded) {
        const shown = await ws.run(['state', 'show', sourceId]);
        expect(shown.out.join('\n'), sourceId).toContain(`target id: ${id}`);
      }
      const byId = new Map(users.map((u) => [u.id, u]));
      for (const u of d.users.slice(0, 12)) expect(byId.get(seeded.get(u.id)!)!.title, u.id).toBe(u.title);
      expect(byId.get(stranger.id)).toEqual(stranger);

      const idle = await callsDuring(server, ws, ['sync']);
      expect(idle.calls).toEqual([]);
      const report = await reconcileReport(ws);
      expect(report.drift).toEqual([]);
      expect(report.unmanaged).toEqual([expect.objectContaining({ targetId: stranger.id, match: null })]);
    });

    // RFC 7644 §3.5.2.3: a `replace` whose value filter matches nothing is 400 noTarget; a first value is an `add`.
    scenario('first value of a typed attribute', 'gives a user the first work phone number it has, added at the source after its account was made', async () => {
      const server = context.server();
      await server.reset();
      const d = makeDirectory(4);
      const user = d.users[1]!;
      expect(user.phone).toBeUndefined();
      const ws = newWorkspace();
      ws.writeDirectory(d);
      expect((await ws.run(['sync'])).code).toBe(0);
      user.phone = '+1 555 0101';
      ws.writeDirectory(d);
      const run = await callsDuring(server, ws, ['sync']);
      expect(await failures(ws)).toEqual([]);
      expect(run.code).toBe(0);
      expect(byExternalId(await server.users()).get(user.id)!.phone).toBe('+1 555 0101');
    });
  });

  describe(`${target.name}: test-connection`, () => {
    scenario('test-connection', 'says OK, and that the userName lookup works', async () => {
      const res = await newWorkspace().run(['test-connection']);
      expect(res.code).toBe(0);
      expect(res.out.join('\n')).toMatch(/lookup by userName: works \(0 matches/);
      expect(res.out.at(-1)).toMatch(/OK$/);
    });

    scenario('refused credentials', 'says that the credentials are refused, without printing them', async () => {
      const res = await newWorkspace({ token: 'wrong-token-for-compat' }).run(['test-connection']);
      expect(res.code).toBe(1);
      expect(res.out.join('\n')).toMatch(/problem: the target refused the credentials \(HTTP 401/);
      expect(res.out.join('\n')).not.toContain('wrong-token-for-compat');
    });
  });
}

/** Starts `target` once for a test file, and stops it after. */
export function useCompatServer(target: CompatTarget, token: string): { server: () => CompatServer } {
  let server: CompatServer | undefined;
  beforeAll(async () => {
    server = await target.start(token);
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    server: () => {
      if (!server) throw new Error(`${target.name} did not start`);
      return server;
    },
  };
}
