import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { READER_DN, SUFFIX, buildLdif, makeLdapDirectory, slapdAvailable, startSlapd, type Slapd } from '../support/slapd.js';
import { makeDirectory, workspace, type Workspace } from '../support/harness.js';

const TOKEN = 'ldap-e2e-token';
const ci = process.env.CI === 'true';
if (!slapdAvailable && !ci) console.warn('\n*** slapd is not installed: the LDAP end-to-end tests are SKIPPED ***\n');
const suite = slapdAvailable || ci ? describe : describe.skip;

let target: DevTarget;

function ldapConfig(ws: Workspace, url: string): void {
  ws.writeConfig({
    raw: [
      'state:',
      `  path: ${ws.dir}/state.db`,
      'log: { level: error }',
      'integrations:',
      '  - name: corp',
      '    source:',
      '      type: ldap',
      `      url: ${url}`,
      `      bindDN: ${READER_DN}`,
      '      bindPassword: ${file:' + ws.dir + '/ldap-password}',
      `      users: { base: "ou=people,${SUFFIX}", id: objectGUID }`,
      `      groups: { base: "ou=groups,${SUFFIX}" }`,
      '      pageSize: 100',
      '      timeoutMs: 3000',
      '    target:',
      `      url: ${target.url}`,
      '      auth: { type: bearer, token: "${TEST_TOKEN}" }',
      '      rateLimit: { requestsPerSecond: 2000, maxConcurrent: 8 }',
      '    safety: { maxDeletes: 1000 }',
      '',
    ].join('\n'),
  });
}

suite('LDAP → scimsync → SCIM target', () => {
  let slapd: Slapd;
  const dir = makeLdapDirectory(150);
  beforeAll(async () => {
    if (!slapdAvailable) throw new Error('slapd is required under CI (apt-get install -y slapd ldap-utils)');
    target = await startDevTarget({ token: TOKEN, strict: true });
    slapd = await startSlapd(buildLdif(dir.users, dir.groups));
  }, 60_000);
  afterAll(async () => {
    await slapd?.stop();
    await target?.stop();
  });

  it('provisions the directory, and neither an LDAP outage nor a shrunken directory deprovisions anyone', async () => {
    const ws = workspace(target.url, TOKEN);
    (await import('node:fs')).writeFileSync(`${ws.dir}/ldap-password`, 'reader-secret\n');
    ldapConfig(ws, slapd.url);
    const first = await ws.run(['sync']);
    expect(first.err).toEqual([]);
    expect(first.code).toBe(0);
    const enabled = dir.users.filter((u) => !u.disabled);
    expect(target.users.size).toBe(enabled.length);
    expect([...target.users.values()].map((u) => u.userName).sort()).toEqual(enabled.map((u) => u.mail).sort());
    const everyone = [...target.groups.values()].find((g) => g.displayName === 'everyone')!;
    expect((everyone.members as unknown[]).length).toBe(enabled.length);
    // The nested group is flattened: team0 + team1 + the last person.
    const engAll = [...target.groups.values()].find((g) => g.displayName === 'eng-all')!;
    const expected = new Set([...dir.groups[0]!.members, ...dir.groups[1]!.members, dir.users.at(-1)!.uid].filter((uid) => !dir.users.find((u) => u.uid === uid)!.disabled));
    expect((engAll.members as unknown[]).length).toBe(expected.size);

    // The LDAP server goes down: one clear line, exit 2, nothing sent.
    const down = workspace(target.url, TOKEN);
    (await import('node:fs')).writeFileSync(`${down.dir}/ldap-password`, 'reader-secret');
    ldapConfig(down, 'ldap://127.0.0.1:1');
    down.writeConfig({ raw: (await import('node:fs')).readFileSync(down.configPath, 'utf8').replace(`${down.dir}/state.db`, `${ws.dir}/state.db`) });
    target.requests.length = 0;
    const outage = await down.run(['sync']);
    expect(outage.code).toBe(2);
    expect(outage.err).toEqual([expect.stringMatching(/\[integration corp\] source: ldap:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/)]);
    expect(target.requests).toEqual([]);

    // The directory suddenly returns 10% of its people: aborted before planning, exit 3.
    const small = await startSlapd(buildLdif(dir.users.slice(0, 15), dir.groups.slice(0, 0)));
    try {
      const shrunk = workspace(target.url, TOKEN);
      (await import('node:fs')).writeFileSync(`${shrunk.dir}/ldap-password`, 'reader-secret');
      ldapConfig(shrunk, small.url);
      shrunk.writeConfig({ raw: (await import('node:fs')).readFileSync(shrunk.configPath, 'utf8').replace(`${shrunk.dir}/state.db`, `${ws.dir}/state.db`) });
      const r = await shrunk.run(['sync']);
      expect(r.code).toBe(3);
      expect(r.err.join('\n')).toMatch(/the source returned 15 users, 10% of the 150 of the last good snapshot \(safety\.minSourceRatio 0\.8\): cycle aborted/);
      expect(target.requests).toEqual([]);
      expect([...target.users.values()].every((u) => u.active === true)).toBe(true);
      const events = await ws.run(['events', '--type', 'user_deprovision', '--result', 'skipped', '--json']);
      expect(JSON.parse(events.out.at(-1)!).detail).toMatchObject({ sourceUsers: 15, lastGood: 150 });
    } finally {
      await small.stop();
    }

    // Back to normal: nothing to do.
    const again = await ws.run(['sync']);
    expect(again.code).toBe(0);
    expect(target.writes()).toEqual([]);
  }, 120_000);
});

describe('SCIM source: another SCIM service as the source of truth', () => {
  it('reads users and groups page by page and provisions them into a second target', async () => {
    const source = await startDevTarget({ token: 'src-token', strict: true, basePath: '/source/v2' });
    const sink = await startDevTarget({ token: TOKEN, strict: true });
    try {
      // Fill the source service by syncing a file directory into it.
      const seed = workspace(source.url, 'src-token');
      seed.writeConfig();
      const d = makeDirectory(230);
      d.groups = [{ id: 'g1', displayName: 'Everyone', members: d.users.map((u) => u.id) }];
      seed.writeDirectory(d);
      expect((await seed.run(['sync'])).code).toBe(0);

      const ws = workspace(sink.url, TOKEN);
      ws.writeConfig({
        raw: [
          `state: { path: ${ws.dir}/state.db }`,
          'log: { level: error }',
          'integrations:',
          '  - name: mirror',
          '    source:',
          '      type: scim',
          `      url: ${source.url}`,
          '      auth: { type: bearer, token: src-token }',
          '      pageSize: 50',
          '    target:',
          `      url: ${sink.url}`,
          '      auth: { type: bearer, token: "${TEST_TOKEN}" }',
          '      rateLimit: { requestsPerSecond: 2000, maxConcurrent: 8 }',
          '',
        ].join('\n'),
      });
      source.requests.length = 0;
      const run = await ws.run(['sync']);
      expect(run.err).toEqual([]);
      expect(run.code).toBe(0);
      const pages = source.requests.filter((r) => r.path.startsWith('/source/v2/Users?'));
      expect(pages).toHaveLength(5); // 230 users, 50 a page
      expect([...sink.users.values()].map((u) => u.userName).sort()).toEqual(d.users.map((u) => u.userName).sort());
      const managers = [...sink.users.values()].filter((u) => (u['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'] as { manager?: unknown } | undefined)?.manager);
      expect(managers.length).toBe(d.users.filter((u) => u.managerId).length);
      expect(([...sink.groups.values()][0]!.members as unknown[]).length).toBe(230);
    } finally {
      await source.stop();
      await sink.stop();
    }
  }, 60_000);
});
