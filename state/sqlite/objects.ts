/**
 * Users, groups and memberships as last pushed, with their digests: the reads
 * planning makes, and the writes a delivery makes (applied by ObjectWriter on
 * whichever connection commits them).
 */
import type Database from 'better-sqlite3';
import type { ScimAttrs } from '../../src/core/attributes.js';
import { attrsDigest, membersDigest, NO_MEMBERS, withMember, withoutMember } from '../../src/core/digest.js';
import type { ObjectStatus, StateGroup, StateUser } from '../../src/core/records.js';
import type { SavedGroup, MemberChange, UserNames } from '../interface.js';

/** What was pushed for a user, as plain data. */
export interface UserWrite {
  kind: 'user';
  integration: string;
  sourceId: string;
  targetId: string | null;
  status: ObjectStatus;
  attrs: ScimAttrs;
}

/** A group and a change of its members, as plain data. */
export interface GroupWrite {
  kind: 'group';
  integration: string;
  group: SavedGroup;
  change: MemberChange;
  at: string;
}

/** A user's memberships forgotten, as plain data. */
export interface MembershipsDropWrite {
  kind: 'memberships.drop';
  integration: string;
  userId: string;
}

export type ObjectWrite = UserWrite | GroupWrite | MembershipsDropWrite;

type UserRow = [string, string, string | null, string, string, number, string, string];

interface GroupRow {
  source_id: string;
  target_id: string | null;
  status: ObjectStatus;
  attrs: string;
  digest: number | null;
}

/** Runs object writes on one connection (the main one, or the writer thread's). */
export class ObjectWriter {
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    this.stmts = {
      upsertUser: db.prepare<UserRow>(
        `INSERT INTO objects (integration, kind, source_id, target_id, status, attrs, digest, created_at, updated_at)
         VALUES (?, 'user', ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (integration, kind, source_id) DO UPDATE SET
           target_id = excluded.target_id, status = excluded.status, attrs = excluded.attrs, digest = excluded.digest,
           updated_at = excluded.updated_at`,
      ),
      // A new group has no members yet: its member digest starts empty, and applyGroup keeps it.
      upsertGroup: db.prepare(
        `INSERT INTO objects (integration, kind, source_id, target_id, status, attrs, digest, created_at, updated_at)
         VALUES (@integration, 'group', @sourceId, @targetId, @status, @attrs, ${NO_MEMBERS}, @now, @now)
         ON CONFLICT (integration, kind, source_id) DO UPDATE SET
           target_id = excluded.target_id, status = excluded.status, attrs = excluded.attrs, updated_at = excluded.updated_at`,
      ),
      groupMembers: db.prepare<[string, string], string>(`SELECT user_id FROM group_members WHERE integration = ? AND group_id = ?`).pluck(),
      groupDigest: db.prepare<[string, string], number | null>(`SELECT digest FROM objects WHERE integration = ? AND kind = 'group' AND source_id = ?`).pluck(),
      setGroupDigest: db.prepare(`UPDATE objects SET digest = ? WHERE integration = ? AND kind = 'group' AND source_id = ?`),
      addMember: db.prepare(`INSERT OR IGNORE INTO group_members (integration, group_id, user_id) VALUES (?, ?, ?)`),
      addMembers: db.prepare(`INSERT OR IGNORE INTO group_members (integration, group_id, user_id) SELECT ?, ?, value FROM json_each(?)`),
      removeMember: db.prepare(`DELETE FROM group_members WHERE integration = ? AND group_id = ? AND user_id = ?`),
      clearMembers: db.prepare(`DELETE FROM group_members WHERE integration = ? AND group_id = ?`),
      dropUser: db.prepare<[string, string], string>(`DELETE FROM group_members WHERE integration = ? AND user_id = ? RETURNING group_id`).pluck(),
    };
  }

  apply(w: ObjectWrite): void {
    switch (w.kind) {
      case 'user': {
        // Stamped where it is written: a few milliseconds after the result, on the writer thread.
        const at = new Date().toISOString();
        this.stmts.upsertUser.run(w.integration, w.sourceId, w.targetId, w.status, JSON.stringify(w.attrs), attrsDigest(w.attrs), at, at);
        return;
      }
      case 'group':
        this.db.transaction(() => this.applyGroup(w))();
        return;
      case 'memberships.drop':
        this.db.transaction(() => this.applyDropMemberships(w.integration, w.userId))();
        return;
    }
  }

  private applyGroup(w: GroupWrite): void {
    const { integration, group, change } = w;
    const id = group.sourceId;
    this.stmts.upsertGroup.run({
      integration,
      sourceId: id,
      targetId: group.targetId,
      status: group.status,
      attrs: JSON.stringify({ displayName: group.displayName }),
      now: w.at,
    });
    if (!change.members && !change.add?.length && !change.remove?.length) return;
    let digest: number;
    if (change.members) {
      // A whole member set (a group created, or read back): one statement, SQLite looping over the list.
      const members = [...new Set(change.members)];
      this.stmts.clearMembers.run(integration, id);
      if (members.length > 0) this.stmts.addMembers.run(integration, id, JSON.stringify(members));
      digest = membersDigest(members);
    } else {
      digest = this.membersDigestOf(integration, id);
    }
    for (const u of change.remove ?? []) if (this.stmts.removeMember.run(integration, id, u).changes > 0) digest = withoutMember(digest, u);
    for (const u of change.add ?? []) if (this.stmts.addMember.run(integration, id, u).changes > 0) digest = withMember(digest, u);
    this.stmts.setGroupDigest.run(digest, integration, id);
  }

  /** A group's stored member digest, recounted from its members for a row that has none. */
  private membersDigestOf(integration: string, groupId: string): number {
    return this.stmts.groupDigest.get(integration, groupId) ?? membersDigest(this.stmts.groupMembers.all(integration, groupId));
  }

  private applyDropMemberships(integration: string, userId: string): void {
    for (const groupId of this.stmts.dropUser.all(integration, userId)) {
      // Recounted after the delete already leaves the user out; a stored digest takes it out here.
      const stored = this.stmts.groupDigest.get(integration, groupId);
      const digest = stored === null || stored === undefined ? this.membersDigestOf(integration, groupId) : withoutMember(stored, userId);
      this.stmts.setGroupDigest.run(digest, integration, groupId);
    }
  }
}

/** The objects of the state: reads here, writes handed to `submit` (group commit). */
export class SqliteObjects {
  private readonly stmts;

  constructor(
    db: Database.Database,
    private readonly submit: (w: ObjectWrite) => void,
  ) {
    this.stmts = {
      loadUsersRaw: db.prepare(`SELECT source_id, target_id, status, digest FROM objects WHERE integration = ? AND kind = 'user'`).raw(true),
      userNames: db
        .prepare(`SELECT source_id, json_extract(attrs, '$.userName'), json_extract(attrs, '$.displayName') FROM objects WHERE integration = ? AND kind = 'user'`)
        .raw(true),
      userAttrs: db.prepare<[string, string], string>(`SELECT attrs FROM objects WHERE integration = ? AND kind = 'user' AND source_id = ?`).pluck(),
      loadGroups: db.prepare<[string], GroupRow>(`SELECT source_id, target_id, status, attrs, digest FROM objects WHERE integration = ? AND kind = 'group'`),
      groupMembers: db.prepare<[string, string], string>(`SELECT user_id FROM group_members WHERE integration = ? AND group_id = ?`).pluck(),
      membershipCount: db.prepare<[string], number>(`SELECT COUNT(*) FROM group_members WHERE integration = ?`).pluck(),
    };
  }

  loadUsers(integration: string): StateUser[] {
    // Rows as arrays: no object per row before the StoredUser.
    const rows = this.stmts.loadUsersRaw.all(integration) as [string, string | null, ObjectStatus, number | null][];
    const attrsOf = (sourceId: string) => this.stmts.userAttrs.get(integration, sourceId) ?? '{}';
    const out: StateUser[] = new Array<StateUser>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      out[i] = new StoredUser(r[0], r[1], r[2], r[3] ?? undefined, attrsOf);
    }
    return out;
  }

  loadUserNames(integration: string): UserNames[] {
    return (this.stmts.userNames.all(integration) as [string, unknown, unknown][]).map(([sourceId, ...names]) => ({ sourceId, names }));
  }

  saveUser(integration: string, user: StateUser): void {
    this.submit({ kind: 'user', integration, sourceId: user.sourceId, targetId: user.targetId, status: user.status, attrs: user.attrs });
  }

  loadGroups(integration: string): StateGroup[] {
    const membersOf = (groupId: string) => this.stmts.groupMembers.all(integration, groupId);
    return this.stmts.loadGroups.all(integration).map(
      (r) =>
        new StoredGroup(
          r.source_id,
          r.target_id,
          r.status,
          String((JSON.parse(r.attrs) as { displayName?: unknown }).displayName ?? ''),
          r.digest ?? undefined,
          membersOf,
        ),
    );
  }

  saveGroup(integration: string, group: SavedGroup, change: MemberChange = {}, now: Date = new Date()): void {
    // Copied: the write may run a few milliseconds later, after the caller changed its arrays.
    const copy: MemberChange = {
      ...(change.add ? { add: [...change.add] } : {}),
      ...(change.remove ? { remove: [...change.remove] } : {}),
      ...(change.members ? { members: [...change.members] } : {}),
    };
    const { sourceId, targetId, status, displayName } = group;
    this.submit({ kind: 'group', integration, group: { sourceId, targetId, status, displayName }, change: copy, at: now.toISOString() });
  }

  dropMemberships(integration: string, userId: string): void {
    this.submit({ kind: 'memberships.drop', integration, userId });
  }

  membershipCount(integration: string): number {
    return this.stmts.membershipCount.get(integration) ?? 0;
  }
}

/** A user read from state; its attributes are read and parsed only when someone looks at them. */
class StoredUser implements StateUser {
  private parsed: ScimAttrs | undefined;
  constructor(
    readonly sourceId: string,
    readonly targetId: string | null,
    readonly status: ObjectStatus,
    readonly digest: number | undefined,
    private readonly attrsOf: (sourceId: string) => string,
  ) {}

  get attrs(): ScimAttrs {
    return (this.parsed ??= JSON.parse(this.attrsOf(this.sourceId)) as ScimAttrs);
  }
}

/** A group read from state; its members are read only when someone looks at them. */
class StoredGroup implements StateGroup {
  private loaded: ReadonlySet<string> | undefined;
  constructor(
    readonly sourceId: string,
    readonly targetId: string | null,
    readonly status: ObjectStatus,
    readonly displayName: string,
    readonly membersDigest: number | undefined,
    private readonly membersOf: (groupId: string) => string[],
  ) {}

  get members(): ReadonlySet<string> {
    return (this.loaded ??= new Set(this.membersOf(this.sourceId)));
  }
}
