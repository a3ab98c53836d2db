import { afterEach, describe, expect, it } from 'vitest';
import { GONG_EXTENSION, startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, workspace, type Directory } from '../support/harness.js';

const TOKEN = 'profile-token';
let target: DevTarget | undefined;
afterEach(async () => {
  await target?.stop();
  target = undefined;
});

const byExternalId = (t: DevTarget) => new Map([...t.users.values()].map((u) => [String(u.externalId), u]));

describe('the gong profile against a Gong-like target', () => {
  it('sends the Gong extension, and holds back users that break its rules with an event naming the rule', async () => {
    target = await startDevTarget({ token: TOKEN, profile: 'gong', emailDomains: ['example.com'] });
    const ws = workspace(target.url, TOKEN);
    ws.writeConfig({ targetYaml: 'profile: gong\noptions: { emailDomains: [example.com] }' });
    const d: Directory = makeDirectory(6);
    Object.assign(d.users[0]!, { locale: 'en-US', timezone: 'America/New_York', country: 'US', stateOrProvince: 'NY' });
    d.users[1]!.email = 'user1@gmail.com'; // outside the company domain
    Object.assign(d.users[2]!, { country: 'France' }); // not ISO 3166
    delete d.users[3]!.familyName; // required
    Object.assign(d.users[4]!, { timezone: 'Mars/Olympus' });
    ws.writeDirectory(d);

    const run = await ws.run(['sync']);
    expect(run.code).toBe(1);
    expect(run.out.join('\n')).toMatch(/created 2,/);
    const users = byExternalId(target);
    expect([...users.keys()].sort()).toEqual(['u00000', 'u00005']);
    const ada = users.get('u00000')!;
    expect(ada.schemas).toContain(GONG_EXTENSION);
    expect(ada[GONG_EXTENSION]).toEqual({ country: 'US', stateOrProvince: 'NY' });
    expect(ada.locale).toBe('en-US');
    expect(ada.timezone).toBe('America/New_York');
    // Nothing was sent for the invalid users: no 400 from the target.
    expect(target.requests.filter((r) => r.status >= 400)).toEqual([]);

    const failures = (await ws.run(['events', '--result', 'failure', '--json'])).out.map((l) => JSON.parse(l) as { sourceId: string; summary: string; detail: { problems: { path: string; rule: string }[] } });
    const why = new Map(failures.map((f) => [f.sourceId, f.detail.problems.map((p) => `${p.path}:${p.rule}`)]));
    expect(why.get('u00001')).toEqual(['emails[type eq "work"].value:emailDomain']);
    expect(why.get('u00002')).toEqual([`${GONG_EXTENSION}:country:country`]);
    expect(why.get('u00003')).toEqual(['name.familyName:required']);
    expect(why.get('u00004')).toEqual(['timezone:timezone']);

    // Corrected at the source: sent on the next cycle.
    d.users[2]!.country = 'FR';
    ws.writeDirectory(d);
    await ws.run(['sync']);
    expect(byExternalId(target).get('u00002')?.[GONG_EXTENSION]).toEqual({ country: 'FR' });
  });
});

describe('the strongdm profile against a strongDM-like target', () => {
  it('serves at /provisioning/generic/v2, adopts an account matched by email, and suspends with active=false', async () => {
    target = await startDevTarget({ token: TOKEN, profile: 'strongdm', basePath: '/provisioning/generic/v2' });
    expect(target.url).toMatch(/\/provisioning\/generic\/v2$/);
    const ws = workspace(target.url, TOKEN);
    ws.writeConfig({ targetYaml: 'profile: strongdm' });
    const d = makeDirectory(4);
    d.groups = [{ id: 'g1', displayName: 'Admins', members: ['u00000', 'u00001'] }];
    // An admin created user2 by hand under another userName: same email.
    const existing = target.seedUser({
      userName: 'u2-legacy',
      name: { givenName: 'Given2', familyName: 'Family2' },
      emails: [{ type: 'work', value: 'user2@example.com', primary: true }],
    });
    ws.writeDirectory(d);
    const run = await ws.run(['sync']);
    expect(run.err).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.out.join('\n')).toMatch(/created 3, adopted 1/);
    expect(target.users.size).toBe(4);
    expect(target.users.get(existing.id)?.externalId).toBe('u00002');
    expect(target.users.get(existing.id)?.userName).toBe('user2@example.com');
    expect([...target.groups.values()].map((g) => (g.members as unknown[]).length)).toEqual([2]);

    d.users[1]!.active = false;
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(byExternalId(target).get('u00001')?.active).toBe(false);
  });
});

describe('mappings and scoping in config, against the local target', () => {
  it('applies overrides, onCreate and keepOnEmpty, scopes by filter, and leaves an out-of-scope manager empty', async () => {
    target = await startDevTarget({ token: TOKEN, strict: true });
    const ws = workspace(target.url, TOKEN);
    ws.writeConfig({
      integrationYaml: [
        'mappings:',
        '  user:',
        '    title: { from: jobTitle, keepOnEmpty: true }',
        '    displayName: { expr: "$upper(familyName) & \', \' & givenName" }',
        '    preferredLanguage: { value: en, apply: onCreate }',
        '    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": { expr: "$switch(dept, {\'S\': \'Sales\', \'E\': \'Engineering\'}, \'Other\')" }',
        'scope:',
        '  filters:',
        '    - - { attribute: dept, op: in, value: [S, E] }',
        '      - { attribute: contractor, op: isFalse }',
      ].join('\n'),
    });
    const d = makeDirectory(6);
    d.users.forEach((u, i) => Object.assign(u, { dept: i < 4 ? 'S' : 'X', contractor: 'false', jobTitle: `Title ${i}` }));
    d.users[3]!.contractor = 'true';
    d.users[1]!.managerId = 'u00005'; // out of scope
    ws.writeDirectory(d);
    const run = await ws.run(['sync']);
    expect(run.code).toBe(0);
    const users = byExternalId(target);
    expect([...users.keys()].sort()).toEqual(['u00000', 'u00001', 'u00002']);
    const u1 = users.get('u00001')!;
    expect(u1.displayName).toBe('FAMILY1, Given1');
    expect(u1.title).toBe('Title 1');
    expect(u1.preferredLanguage).toBe('en');
    const enterprise = u1['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'] as Record<string, unknown>;
    expect(enterprise.department).toBe('Sales');
    expect(enterprise.manager).toBeUndefined();

    // The title empties at the source (kept), the language changes in the app (not ours to update), u00002 leaves scope.
    delete d.users[1]!.jobTitle;
    d.users[2]!.dept = 'X';
    ws.writeDirectory(d);
    target.users.get(u1.id)!.preferredLanguage = 'fr';
    const second = await ws.run(['sync']);
    expect(second.code).toBe(0);
    const after = byExternalId(target);
    expect(after.get('u00001')?.title).toBe('Title 1');
    expect(after.get('u00001')?.preferredLanguage).toBe('fr');
    expect(after.get('u00002')?.active).toBe(false);
  });

  it('leaves users who fall out of scope alone with scope.skipOutOfScopeDeletions', async () => {
    target = await startDevTarget({ token: TOKEN, strict: true });
    const ws = workspace(target.url, TOKEN);
    ws.writeConfig({ integrationYaml: 'scope:\n  skipOutOfScopeDeletions: true\n  filters: [[{ attribute: dept, op: equals, value: S }]]' });
    const d = makeDirectory(3);
    d.users.forEach((u) => Object.assign(u, { dept: 'S' }));
    ws.writeDirectory(d);
    await ws.run(['sync']);
    d.users[0]!.dept = 'X';
    ws.writeDirectory(d);
    target.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.requests).toEqual([]);
    expect(byExternalId(target).get('u00000')?.active).toBe(true);
  });

  it('updates by PUT of the whole resource where the target wants it, keeping what it does not manage', async () => {
    target = await startDevTarget({ token: TOKEN, strict: true });
    const ws = workspace(target.url, TOKEN);
    ws.writeConfig({ targetYaml: 'options: { updateVerb: put }' });
    const d = makeDirectory(3);
    ws.writeDirectory(d);
    await ws.run(['sync']);
    const u0 = byExternalId(target).get('u00000')!;
    target.users.get(u0.id)!.nickName = 'set in the app';
    d.users[0]!.title = 'CTO';
    delete d.users[0]!.phone;
    d.users[1]!.active = false;
    ws.writeDirectory(d);
    target.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.requests.map((r) => r.method).sort()).toEqual(['GET', 'PATCH', 'PUT']); // deactivation stays a PATCH
    const after = target.users.get(u0.id)!;
    expect(after.title).toBe('CTO');
    expect(after.phoneNumbers ?? []).toEqual([]);
    expect(after.nickName).toBe('set in the app');
    expect(byExternalId(target).get('u00001')?.active).toBe(false);
    target.requests.length = 0;
    await ws.run(['sync']);
    expect(target.requests).toEqual([]);
  });
});
