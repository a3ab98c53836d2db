/**
 * The contract every target profile keeps (generic, gong, strongdm), in the manner of
 * hono's shared router suite: one runner per profile calls testTargetProfile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROFILES, resolveProfile, type ResolvedProfile } from '../../connectors/profiles/index.js';
import type { TargetProfile } from '../../connectors/profiles/profile.js';
import { parseConfig } from '../../src/config/load.js';
import { CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA } from '../../src/core/paths.js';
import type { ProfileRule } from '../../src/core/map.js';
import type { SourceUser } from '../../src/core/records.js';
import { startDevTarget, type DevTarget, type DevTargetOptions } from '../support/devtarget/server.js';
import { userBody } from '../../src/scim/bodies.js';

/** How the local SCIM target behaves as this profile's target, and the profile options the config sets for it. */
export interface ProfileTargetMode {
  target: Omit<DevTargetOptions, 'token' | 'port'>;
  /** The config's `target.options` (Gong: emailDomains). */
  options?: Record<string, unknown>;
}

const TOKEN = 'profile-contract-token';
const MANAGER_ID = 'u1';

/** The same source user for every profile: everything any profile maps, all of it valid. */
export const SOURCE_USER: SourceUser = {
  id: 'u2',
  active: true,
  attributes: {
    id: 'u2',
    userName: 'alan@example.com',
    givenName: 'Alan',
    familyName: 'Turing',
    email: 'alan@example.com',
    title: 'Engineer',
    phone: '+1 555 0102',
    managerId: MANAGER_ID,
    locale: 'en-US',
    timezone: 'Europe/London',
    country: 'GB',
    stateOrProvince: 'London',
  },
};

/** A value a rule of that kind refuses. */
const REFUSED: Record<Exclude<ProfileRule['rule'], 'required'>, string> = {
  emailDomain: 'alan@elsewhere.invalid',
  locale: 'English',
  timezone: 'Mars/Olympus_Mons',
  country: 'ZZ',
};

/** A value of a SCIM resource by the path syntax mappings use (`urn:…:attr`, `attr[type eq "x"].sub`, `attr.sub`). */
function valueAt(resource: Record<string, unknown>, path: string): unknown {
  let holder = resource;
  let rest = path;
  if (path.startsWith('urn:')) {
    const cut = path.lastIndexOf(':');
    holder = (resource[path.slice(0, cut)] ?? {}) as Record<string, unknown>;
    rest = path.slice(cut + 1);
  }
  const m = /^(\w+)(?:\[type eq "([^"]*)"\])?(?:\.(\w+))?$/.exec(rest);
  if (!m) throw new Error(`the contract cannot read the path ${path}`);
  const [, attribute, type, sub] = m;
  let value = holder[attribute!];
  if (type !== undefined) value = (Array.isArray(value) ? (value as Record<string, unknown>[]) : []).find((item) => item.type === type)?.[sub ?? 'value'];
  else if (sub !== undefined) value = (value as Record<string, unknown> | undefined)?.[sub];
  return value;
}

/** The source attributes a mapping reads (`from` and `join`). */
function feeding(profile: TargetProfile, path: string): string[] {
  const spec = profile.mappings[path];
  if (!spec) return [];
  return [spec.from ?? [], spec.join ?? []].flat();
}

/** SOURCE_USER changed so that it breaks `rule`. */
function breaking(profile: TargetProfile, rule: ProfileRule): SourceUser {
  const attributes = { ...SOURCE_USER.attributes };
  for (const attribute of feeding(profile, rule.path)) {
    if (rule.rule === 'required') delete attributes[attribute];
    else attributes[attribute] = REFUSED[rule.rule];
  }
  return { ...SOURCE_USER, attributes };
}

/** The profile as an integration that names it uses it, through the config loader. */
function resolved(name: string, mode: ProfileTargetMode): ResolvedProfile {
  const document = {
    integrations: [
      {
        name: `contract-${name}`,
        source: { type: 'file', path: 'directory.json' },
        target: { url: 'https://scim.example.com/scim/v2', profile: name, auth: { type: 'bearer', token: TOKEN }, ...(mode.options ? { options: mode.options } : {}) },
      },
    ],
  };
  const config = parseConfig(JSON.stringify(document), '/contract/scimsync.yaml', {});
  return resolveProfile(config.integrations[0]!);
}

export function testTargetProfile(name: string, profile: TargetProfile, mode: ProfileTargetMode): void {
  describe(`target profile contract: ${name}`, () => {
    let mapping: ResolvedProfile;
    let target: DevTarget;

    beforeAll(async () => {
      mapping = resolved(name, mode);
      target = await startDevTarget({ token: TOKEN, ...mode.target, ...(profile.basePath ? { basePath: profile.basePath } : {}) });
    });
    afterAll(async () => {
      await target?.stop();
    });

    /** The body scimsync sends to create `user`; the manager resolves to `managerTargetId`. */
    async function resourceFor(user: SourceUser, managerTargetId = 'manager-target-id'): Promise<Record<string, unknown>> {
      const mapped = await mapping.mapper.map(user);
      expect(mapped.problems, 'a valid user maps without problems').toEqual([]);
      return userBody({ ...mapped.attrs, ...mapped.createOnly }, { active: user.active, resolve: (id) => (id === MANAGER_ID ? managerTargetId : undefined) }).body;
    }

    it('is the profile config names as target.profile', () => {
      expect(PROFILES[name]).toBe(profile);
      expect(profile.name).toBe(name);
    });

    it('maps the source user to a SCIM resource: schemas listed, required values present, active a boolean', async () => {
      const body = await resourceFor(SOURCE_USER);
      const schemas = body.schemas as string[];
      expect(schemas).toContain(CORE_USER_SCHEMA);
      const extensions = Object.keys(body).filter((key) => key.startsWith('urn:'));
      expect([...extensions].sort(), 'every extension present is listed in schemas, and only those').toEqual(schemas.filter((s) => s !== CORE_USER_SCHEMA).sort());
      expect(body.userName).toBe(SOURCE_USER.attributes.userName);
      for (const rule of mapping.rules.filter((r) => r.rule === 'required')) {
        expect(valueAt(body, rule.path), `${rule.path} is required by ${name}`).toEqual(expect.anything());
      }
      expect(body.active).toBe(true);
      expect(valueAt(body, `${ENTERPRISE_USER_SCHEMA}:manager`)).toEqual({ value: 'manager-target-id' });
    });

    it('sends active false, a boolean, for an inactive user', async () => {
      const body = await resourceFor({ ...SOURCE_USER, active: false, attributes: { ...SOURCE_USER.attributes, active: 'false' } });
      expect(body.active).toBe(false);
    });

    it.each(profile.rules.map((rule) => [`${rule.rule} ${rule.path}`, rule] as const))(
      'reports a user breaking "%s" as a problem of that path, not an exception',
      async (_title, rule) => {
        expect(feeding(profile, rule.path), `${rule.path} has a mapping the contract can break`).not.toEqual([]);
        const mapped = await mapping.mapper.map(breaking(profile, rule));
        expect(mapped.problems).toContainEqual(expect.objectContaining({ path: rule.path, rule: rule.rule }));
      },
    );

    it(`is accepted by the local SCIM target in ${name} mode (one real POST)`, async () => {
      // The manager exists in the target, as it would after an earlier cycle created it.
      const manager = target.seedUser({ userName: 'ada@example.com', name: { givenName: 'Ada', familyName: 'Lovelace' }, emails: [{ type: 'work', value: 'ada@example.com', primary: true }] });
      const body = await resourceFor(SOURCE_USER, manager.id);
      const response = await fetch(`${target.url}/Users`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/scim+json' },
        body: JSON.stringify(body),
      });
      const answer = (await response.json()) as Record<string, unknown>;
      expect(response.status, JSON.stringify(answer)).toBe(201);
      const stored = target.users.get(answer.id as string)!;
      expect(stored.userName).toBe(SOURCE_USER.attributes.userName);
      expect(stored.active).toBe(true);
      // Accepted means kept: every value the profile maps is stored as it was sent.
      for (const path of mapping.mapper.paths) expect(valueAt(stored, path), path).toEqual(valueAt(body, path));
      expect(valueAt(stored, `${ENTERPRISE_USER_SCHEMA}:manager`)).toMatchObject({ value: manager.id });
    });
  });
}
