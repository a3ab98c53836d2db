import { describe, expect, it } from 'vitest';
import { makeDirectory, workspace, type Workspace } from '../support/harness.js';
import { byExternalId, callsDuring, failures, reconcileReport } from './directory.js';
import { compatScenarios, useCompatServer, type CompatTarget } from './scenarios.js';
import { ScimObserver } from './servers/server.js';
import { startJacksonServer } from './servers/jackson.js';

// What a user of this server configures: it drops the members of a POST /Groups, and never returns members.
const OPTIONS = 'options: { createWithMembers: false, readsMembers: false }';

const jackson: CompatTarget = {
  name: 'BoxyHQ SAML Jackson 26.2.0 (directory sync)',
  start: () => startJacksonServer(),
  targetYaml: OPTIONS,
  hidesMembers: true,
};

const MANAGER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager';

describe('compatibility: BoxyHQ SAML Jackson', () => {
  const context = useCompatServer(jackson, '');
  compatScenarios(jackson, context);

  describe('Jackson: where it departs from the RFC', () => {
    const fresh = async (targetYaml?: string): Promise<Workspace> => {
      const server = context.server();
      await server.reset();
      const ws = workspace(server.url, server.token);
      ws.writeConfig(targetYaml ? { targetYaml } : {});
      return ws;
    };

    it('RFC 7644 §4: publishes no /ServiceProviderConfig (404); test-connection assumes the RFC defaults and says OK', async () => {
      const res = await (await fresh(OPTIONS)).run(['test-connection']);
      expect(res.code).toBe(0);
      expect(res.out.join('\n')).toMatch(/\/ServiceProviderConfig: not published \(HTTP 404\); assuming RFC 7644 defaults/);
      expect(res.out.at(-1)).toMatch(/OK$/);
    });

    it('RFC 7644 §3.3 and RFC 7643 §4.2: drops the members of a POST /Groups and returns none on GET; without the options they never arrive and reconcile says so', async () => {
      const ws = await fresh();
      const d = makeDirectory(6);
      d.groups = [{ id: 'g1', displayName: 'Sales', members: ['u00001', 'u00002', 'u00003'] }];
      ws.writeDirectory(d);
      const run = await ws.run(['sync']);
      // The server answered 201 to the group: nothing failed, yet the app sees an empty group.
      expect(run.code).toBe(0);
      const [sales] = await context.server().groups();
      expect(sales).toMatchObject({ displayName: 'Sales', members: [] });
      const report = await reconcileReport(ws);
      expect(report.groupDrift).toEqual([expect.objectContaining({ displayName: 'Sales', missing: ['u00001', 'u00002', 'u00003'], extra: [] })]);

      // With the options this server needs, the members are sent by PATCH and arrive.
      const fixed = await fresh(OPTIONS);
      fixed.writeDirectory(d);
      expect((await fixed.run(['sync'])).code).toBe(0);
      const linked = byExternalId(await context.server().users());
      const [group] = await context.server().groups();
      expect(group!.members).toEqual(['u00001', 'u00002', 'u00003'].map((id) => linked.get(id)!.id).sort());
    });

    it('RFC 7644 §3.5.2 and §3.10: answers 200 to a PATCH of an extension attribute by its URN path but stores it elsewhere; reconcile reports the drift', async () => {
      const ws = await fresh(OPTIONS);
      const d = makeDirectory(2);
      const report = d.users[1]!;
      delete report.managerId;
      ws.writeDirectory(d);
      expect((await ws.run(['sync'])).code).toBe(0);
      report.managerId = 'u00000';
      ws.writeDirectory(d);

      const run = await callsDuring(context.server(), ws, ['sync']);
      expect(run.code).toBe(0);
      expect(run.calls.filter((c) => c.method === 'PATCH').map((c) => c.status)).toEqual([200]);
      const server = context.server();
      const account = byExternalId(await server.users()).get('u00001')!;
      const api = new ScimObserver(server.url, server.token);
      const { data } = await api.request<Record<string, unknown>>('GET', `/Users/${account.id}`);
      // The path is split at the dot of "2.0": the manager lands under "urn:…:enterprise:2" → "0:User:manager".
      expect(data['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User']).toBeUndefined();
      expect(data['urn:ietf:params:scim:schemas:extension:enterprise:2']).toEqual({ '0:User:manager': expect.anything() });
      expect((await reconcileReport(ws)).drift).toEqual([expect.objectContaining({ sourceId: 'u00001', path: MANAGER, pushed: '<user u00000>', actual: null })]);
    });

    it('RFC 7643 §4.1.1 and §8.7.1: holds the email unique (the schema says uniqueness none), so a second user with a taken email is refused (409); scimsync fails that user alone with the server message', async () => {
      const ws = await fresh(OPTIONS);
      const d = makeDirectory(4);
      // Two people who share a mailbox: different userNames (the unique attribute), one email.
      d.users[3]!.email = d.users[2]!.email;
      ws.writeDirectory(d);
      const run = await ws.run(['sync']);
      expect(run.code).toBe(1);
      expect(run.out.join('\n')).toMatch(/partial: created 3, adopted 0, .* failed 1, held 0, kept for retry 1/);
      const failed = await failures(ws);
      expect(failed.map((f) => [f.sourceId, f.detail.status])).toEqual([['u00003', 409]]);
      expect(failed[0]!.summary).toContain('User already exists');
      const linked = byExternalId(await context.server().users());
      expect([...linked.keys()].sort()).toEqual(['u00000', 'u00001', 'u00002']);
      // Nobody was linked to the other person's account.
      expect((await ws.run(['state', 'show', 'u00003'])).out.join('\n')).not.toContain(linked.get('u00002')!.id);
    });

    it('RFC 7644 §3.4.2.2: answers a userName filter from its email index, so a userName that is not an email is never found; scimsync adopts the account after the 409', async () => {
      const ws = await fresh(OPTIONS);
      const d = makeDirectory(3);
      for (const u of d.users) u.userName = `emp-${u.id}`;
      const existing = await context.server().seedUser({ userName: 'emp-u00001', givenName: 'Given1', familyName: 'Family1', email: 'user1@example.com' });
      ws.writeDirectory(d);

      const run = await callsDuring(context.server(), ws, ['sync']);
      expect(await failures(ws)).toEqual([]);
      expect(run.code).toBe(0);
      expect(run.out).toMatch(/created 2, adopted 1, .* failed 0/);
      // The lookup that should have found it found nothing; the create was refused; a paginated read found it.
      expect(run.calls.filter((c) => c.method === 'POST').map((c) => c.status).sort()).toEqual([201, 201, 409]);
      const users = await context.server().users();
      expect(users).toHaveLength(3);
      expect(byExternalId(users).get('u00001')!.id).toBe(existing.id);
    });

    it('RFC 7644 §3.4.2: its totalResults stops at 50 (the library caps every store read); reconcile still reads all 60 users', async () => {
      const ws = await fresh(OPTIONS);
      ws.writeDirectory(makeDirectory(60));
      expect((await ws.run(['sync'])).code).toBe(0);
      const server = context.server();
      const { data } = await new ScimObserver(server.url, server.token).request<{ totalResults: number }>('GET', '/Users?startIndex=1&count=100');
      expect(data.totalResults).toBe(50);
      const res = await ws.run(['reconcile']);
      expect(res.code).toBe(0);
      expect(res.out[0]).toMatch(/target: 60 users/);
      const report = await reconcileReport(ws);
      expect([report.drift, report.vanished, report.unmanaged]).toEqual([[], [], []]);
    });
  });
});
