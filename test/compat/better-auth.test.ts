import { describe, expect, it } from 'vitest';
import { makeDirectory, workspace, type Workspace } from '../support/harness.js';
import { byExternalId, callsDuring, failures, reconcileReport, writesIn } from './directory.js';
import { compatScenarios, useCompatServer, type CompatTarget } from './scenarios.js';
import { startBetterAuthServer } from './servers/better-auth.js';

const TOKEN = 'compat-better-auth-token-0123456789';

const betterAuth: CompatTarget = { name: 'better-auth 1.7.5 (@better-auth/scim 1.7.5)', start: startBetterAuthServer };

describe('compatibility: better-auth', () => {
  const context = useCompatServer(betterAuth, TOKEN);
  compatScenarios(betterAuth, context);

  describe('better-auth: where it departs from the RFC, and its policies', () => {
    const fresh = async (): Promise<Workspace> => {
      const server = context.server();
      await server.reset();
      const ws = workspace(server.url, server.token);
      ws.writeConfig();
      return ws;
    };

    it('RFC 7644 §3.5.2.2: refuses the filtered remove of a work email (400 invalidPath); scimsync fails that user alone with the server message', async () => {
      const ws = await fresh();
      const d = makeDirectory(5);
      ws.writeDirectory(d);
      expect((await ws.run(['sync'])).code).toBe(0);
      // The source clears one user's email (optional in RFC 7643 §4.1.2) and changes another's title.
      delete d.users[1]!.email;
      d.users[2]!.title = 'Staff Engineer';
      ws.writeDirectory(d);

      const run = await callsDuring(context.server(), ws, ['sync']);
      expect(run.code).toBe(1);
      expect(run.out).toMatch(/partial: created 0, adopted 0, updated 1, .* failed 1, held 0, kept for retry 1/);
      const failed = await failures(ws);
      expect(failed.map((f) => f.sourceId)).toEqual(['u00001']);
      expect(failed[0]!.summary).toContain('HTTP 400 (invalidPath: User PATCH path emails[type eq "work"] is not supported)');
      const linked = byExternalId(await context.server().users());
      expect(linked.get('u00002')!.title).toBe('Staff Engineer');
      expect(linked.get('u00001')!.email).toBe('user1@example.com');
    });

    it('refuses an email address that is not ASCII (400 invalidValue, a policy RFC 5321 allows); scimsync fails that user alone with the server message', async () => {
      const ws = await fresh();
      const d = makeDirectory(4);
      d.users[2]!.email = 'zoë@exämple.com';
      ws.writeDirectory(d);
      const run = await ws.run(['sync']);
      expect(run.code).toBe(1);
      expect(run.out.join('\n')).toMatch(/partial: created 3, .* failed 1/);
      const failed = await failures(ws);
      expect(failed.map((f) => [f.sourceId, f.detail.status, f.detail.scimType])).toEqual([['u00002', 400, 'invalidValue']]);
      expect(failed[0]!.summary).toContain('[body.emails.0.value] Invalid email address');
      expect([...byExternalId(await context.server().users()).keys()].sort()).toEqual(['u00000', 'u00001', 'u00003']);
    });

    // Emails are not caseExact (RFC 7643 §4.1.2): Better Auth stores them lower-cased, as it may.
    it('stores emails lower-cased: reconcile after a sync sees no drift, and a second reconcile --apply sends nothing', async () => {
      const ws = await fresh();
      const d = makeDirectory(3);
      d.users[0]!.email = 'Ada.Lovelace@Example.com';
      ws.writeDirectory(d);
      expect((await ws.run(['sync'])).code).toBe(0);
      expect(byExternalId(await context.server().users()).get('u00000')!.email).toBe('ada.lovelace@example.com');
      expect((await reconcileReport(ws)).drift).toEqual([]);
      await ws.run(['reconcile', '--apply']);
      const again = await callsDuring(context.server(), ws, ['reconcile', '--apply']);
      expect(writesIn(again.calls)).toEqual([]);
    });
  });
});
