/**
 * The contract every source connector keeps (file JSON, file CSV, LDAP, SCIM), in the
 * manner of hono's shared router suite and unstorage's testDriver: one runner per
 * source writes the same directory in its own form and calls testSourceConnector.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSource } from '../../connectors/index.js';
import type { SourceConnector } from '../../connectors/source.js';
import { parseConfig } from '../../src/config/load.js';
import type { SnapshotResult } from '../../src/core/records.js';
import { SourceError } from '../../src/errors.js';

/** A person of the directory; `key` is the id wherever the source lets the admin choose ids. */
export interface DirectoryUser {
  key: string;
  userName: string;
  givenName: string;
  familyName: string;
  email: string;
  title?: string;
  phone?: string;
  /** The key of this person's manager. */
  manager?: string;
  active: boolean;
}

export interface DirectoryGroup {
  key: string;
  displayName: string;
  /** Keys of users. */
  members: string[];
}

/** The directory every source holds for the contract. */
export interface Directory {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
  /** People the source holds but must report instead of returning: a control character in the userName. */
  badUsers: DirectoryUser[];
  /** A member of `group` that names nobody (`member` is a key no user has): reported, and left out of the group. */
  dangling: { group: string; member: string };
}

export const DIRECTORY: Directory = {
  users: [
    { key: 'u1', userName: 'ada@example.com', givenName: 'Ada', familyName: 'Lovelace', email: 'ada@example.com', title: 'Engineering Manager', phone: '+1 555 0100', active: true },
    { key: 'u2', userName: 'alan@example.com', givenName: 'Alan', familyName: 'Turing', email: 'alan@example.com', title: 'Engineer', manager: 'u1', active: true },
    { key: 'u3', userName: 'grace@example.com', givenName: 'Grace', familyName: 'Hopper', email: 'grace@example.com', phone: '+1 555 0103', manager: 'u1', active: false },
    { key: 'u4', userName: 'edsger@example.com', givenName: 'Edsger', familyName: 'Dijkstra', email: 'edsger@example.com', manager: 'u2', active: true },
  ],
  groups: [
    { key: 'g1', displayName: 'Engineering', members: ['u1', 'u2', 'u4'] },
    { key: 'g2', displayName: 'Sales', members: ['u3'] },
  ],
  badUsers: [{ key: 'u5', userName: 'bell\u0007@example.com', givenName: 'Bell', familyName: 'Ringer', email: 'bell\u0007@example.com', active: true }],
  dangling: { group: 'g2', member: 'u404' },
};

/** What a source holds to serve `directory`: every user (bad ones too), and groups with the dangling member. */
export function heldRows(directory: Directory): { users: DirectoryUser[]; groups: DirectoryGroup[] } {
  const { group, member } = directory.dangling;
  return {
    users: [...directory.users, ...directory.badUsers],
    groups: directory.groups.map((g) => (g.key === group ? { ...g, members: [...g.members, member] } : g)),
  };
}

/**
 * A source as an admin configures it: `source` is the config's `source:` block, read by
 * the real config loader (defaults, relative paths from `dir`, `${ENV}` from `env`) and built by createSource.
 */
export function sourceFromConfig(source: Record<string, unknown>, options: { dir: string; integration: string; env?: NodeJS.ProcessEnv }): SourceConnector {
  const document = {
    state: { path: 'state.db' },
    integrations: [{ name: options.integration, source, target: { url: 'http://127.0.0.1:9/scim/v2', auth: { type: 'bearer', token: 'contract' } } }],
  };
  // JSON is YAML: the loader reads it as it reads scimsync.yaml.
  const config = parseConfig(JSON.stringify(document), `${options.dir}/scimsync.yaml`, options.env ?? {});
  return createSource(config.integrations[0]!);
}

export interface SourceUnderTest {
  source: SourceConnector;
  /** The id this source gives the user or group of that key: the key itself, an entryUUID, a SCIM id. */
  idOf(key: string): string;
}

/** A source that cannot be read, and the secrets it was given (the error must not show them). */
export interface UnreadableSource {
  source: SourceConnector;
  secrets?: string[];
}

export interface SourceHarness {
  /** The integration name the runner's config uses: every SourceError starts with it. */
  integration: string;
  /** When set, the suite is skipped, and says so loudly with this reason. */
  unavailable?: string | undefined;
  /** A source holding `directory` (heldRows), built from config. */
  make(directory: Directory): Promise<SourceUnderTest>;
  /** Ways this kind of source can be unreadable, by name. Called after make(). */
  unreadable: Record<string, () => Promise<UnreadableSource>>;
  /**
   * Checks this source fails today, by test name, each with why. They run as expected
   * failures (it.fails): the day the connector is fixed, the entry must go.
   */
  knownDeviations?: Record<string, string>;
  /** Stops what make() started. */
  stop?(): Promise<void>;
}

interface NormalUser {
  key: string;
  active: boolean;
  attributes: Record<string, unknown>;
}

const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);

/** The snapshot every source must return for DIRECTORY, in keys. */
function expectedSnapshot(directory: Directory): { users: NormalUser[]; groups: DirectoryGroup[] } {
  return {
    users: directory.users
      .map((u) => ({
        key: u.key,
        active: u.active,
        attributes: {
          userName: u.userName,
          givenName: u.givenName,
          familyName: u.familyName,
          email: u.email,
          ...(u.title !== undefined ? { title: u.title } : {}),
          ...(u.phone !== undefined ? { phone: u.phone } : {}),
          ...(u.manager !== undefined ? { managerId: u.manager } : {}),
        },
      }))
      .sort(byKey),
    groups: directory.groups.map((g) => ({ ...g, members: [...g.members].sort() })).sort(byKey),
  };
}

export function testSourceConnector(name: string, harness: SourceHarness): void {
  const deviations = harness.knownDeviations ?? {};
  const used = new Set<string>();
  // A deviation is named by the check's title, or by the situation of an unreadable case.
  const check = (title: string, fn: () => Promise<void>, options: { key?: string; timeout?: number } = {}) => {
    const key = options.key ?? title;
    const why = deviations[key];
    used.add(key);
    const timeout = options.timeout;
    if (why) it.fails(`${title} [known deviation: ${why}]`, fn, timeout);
    else it(title, fn, timeout);
  };

  if (harness.unavailable) console.warn(`\n*** ${name} source contract SKIPPED: ${harness.unavailable} ***\n`);
  const suite = harness.unavailable ? describe.skip : describe;

  suite(`source contract: ${name}`, () => {
    const directory = DIRECTORY;
    let sut: SourceUnderTest;
    let first: SnapshotResult;
    let keyOf: (id: string) => string;

    beforeAll(async () => {
      sut = await harness.make(directory);
      const keys = [...heldRows(directory).users, ...directory.groups].map((x) => x.key);
      const byId = new Map(keys.map((k) => [sut.idOf(k), k]));
      keyOf = (id) => byId.get(id) ?? `<unknown id ${id}>`;
      first = await sut.source.snapshot();
    }, 120_000);
    afterAll(async () => {
      await harness.stop?.();
    });

    const normalize = (result: SnapshotResult) => ({
      users: result.snapshot.users
        .map((u) => {
          // id and active are the user's own fields (DESIGN.md, "The pipeline"); the rest is the row as read.
          const attributes = { ...u.attributes };
          delete attributes.id;
          delete attributes.active;
          if (typeof attributes.managerId === 'string') attributes.managerId = keyOf(attributes.managerId);
          return { key: keyOf(u.id), active: u.active, attributes };
        })
        .sort(byKey),
      groups: result.snapshot.groups.map((g) => ({ key: keyOf(g.id), displayName: g.displayName, members: g.members.map(keyOf).sort() })).sort(byKey),
    });

    check('returns the directory: users with id, attributes and active, groups with members, managers as user ids', async () => {
      expect(normalize(first)).toEqual(expectedSnapshot(directory));
      for (const u of first.snapshot.users) {
        if (u.attributes.id !== undefined) expect(u.attributes.id, 'the row id is the user id').toBe(u.id);
        expect(typeof u.active).toBe('boolean');
      }
    });

    check('reports a user it cannot use as a problem carrying its sourceId, and leaves the user out', async () => {
      for (const bad of directory.badUsers) {
        const id = sut.idOf(bad.key);
        expect(first.problems, `a problem for ${bad.key}`).toContainEqual(expect.objectContaining({ sourceId: id, message: expect.stringContaining('control character') }));
        expect(first.snapshot.users.map((u) => u.id)).not.toContain(id);
      }
    });

    check('reports a group member that names nobody as a problem of that group, and leaves the member out', async () => {
      const groupId = sut.idOf(directory.dangling.group);
      expect(first.problems).toContainEqual(expect.objectContaining({ sourceId: groupId }));
      const group = first.snapshot.groups.find((g) => g.id === groupId)!;
      expect(group.members.map(keyOf)).not.toContain(directory.dangling.member);
    });

    check('reports nothing about the rows that are fine, and says where each problem is', async () => {
      const expectedIds = new Set([...directory.badUsers.map((u) => sut.idOf(u.key)), sut.idOf(directory.dangling.group)]);
      for (const p of first.problems) {
        expect(expectedIds, `unexpected problem: ${JSON.stringify(p)}`).toContain(p.sourceId);
        expect(p.location.length).toBeGreaterThan(0);
      }
    });

    check('is deterministic: a second read returns the same snapshot and problems, in the same order', async () => {
      expect(await sut.source.snapshot()).toEqual(first);
    });

    for (const [situation, unreadable] of Object.entries(harness.unreadable)) {
      check(
        `refuses with a SourceError, never an empty snapshot, when ${situation}`,
        async () => {
          const { source, secrets = [] } = await unreadable();
          const outcome = await source.snapshot().then(
            (result) => ({ read: result }),
            (error: unknown) => ({ error }),
          );
          expect(outcome).not.toHaveProperty('read');
          const error = (outcome as { error: unknown }).error;
          expect(error).toBeInstanceOf(SourceError);
          const message = (error as SourceError).message;
          expect(message).toMatch(new RegExp(`^\\[scimsync\\] \\[integration ${harness.integration}\\] source: `));
          expect(message).not.toContain('\n');
          for (const secret of secrets) expect(message).not.toContain(secret);
        },
        { key: situation, timeout: 60_000 },
      );
    }

    it('names only checks that exist in its known deviations', () => {
      expect(Object.keys(deviations).filter((title) => !used.has(title))).toEqual([]);
    });
  });
}
