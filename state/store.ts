import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { StateGroup } from '../src/core/records.js';
import type { ObjectStatus, StateUser } from '../src/core/records.js';
import { attrsDigest, membersDigest, NO_MEMBERS, withMember, withoutMember } from '../src/core/digest.js';
import type { ScimAttrs } from '../src/core/attributes.js';
import type { EventRecord, EventResult, EventType, NewEvent } from '../src/events/types.js';
import { StateFileError } from '../src/errors.js';
import { FINGERPRINT_KEY_BYTES, migrations } from './migrations.js';
import { openStateFile, stateFileFailure } from './open.js';
import { BackgroundWriter } from './writer.js';

export interface CycleCounts {
  [counter: string]: number;
}

export type CycleOutcome = 'success' | 'partial' | 'aborted' | 'failed' | 'interrupted' | 'quarantined';

export interface EventQuery {
  integration?: string;
  type?: EventType;
  result?: EventResult;
  /** Matches the source id, the target id, or the userName last pushed. */
  user?: string;
  since?: string;
  until?: string;
  afterId?: number;
  limit?: number;
}

export interface IntegrationRecord {
  name: string;
  configHash: string;
  authHash: string;
}

export interface Quarantine {
  until: string;
  level: number;
  reason: string;
}

export interface EscrowEntry {
  key: string;
  fingerprint: string;
  kind: string;
  sourceId: string;
  cycles: number;
  attempts: number;
  lastError: string;
  firstFailedAt: string;
  lastFailedAt: string;
  givenUp: boolean;
}

export interface InflightEntry {
  key: string;
  kind: string;
  sourceId: string;
  cycleId: string;
  startedAt: string;
}

/** One object as state holds it (`state show`). */
export interface StoredObject {
  integration: string;
  kind: 'user' | 'group';
  sourceId: string;
  targetId: string | null;
  status: ObjectStatus;
  attrs: ScimAttrs;
  createdAt: string;
  updatedAt: string;
  /** For a user: the groups (source ids) it was last pushed into. */
  groups?: string[];
  /** For a group: the members (source ids) last pushed. */
  members?: string[];
  escrow: EscrowEntry[];
}

/** What a held cycle would deprovision: one entry per user. */
export interface HeldObject {
  kind: string;
  sourceId: string;
  userName: string;
}

export interface HeldPlan {
  heldAt: string;
  reason: string;
  /** Users managed when the plan was held. */
  managed: number;
  objects: HeldObject[];
  /** Set by `scimsync approve`: the next cycle may apply this plan (or less of it) once. */
  approvedAt: string | null;
}

export interface CycleRecord {
  id: string;
  integration: string;
  startedAt: string;
  endedAt: string | null;
  outcome: string | null;
  counts: Record<string, number>;
}

type UserRow = [string, string, string | null, string, string, number, string, string];
type EventParams = [string, string, string | null, string, string, string | null, string | null, string];

/** A write of the kind a delivery makes, as plain data: run here, or on the writer thread. */
export type WriteCommand =
  | { kind: 'user'; integration: string; sourceId: string; targetId: string | null; status: ObjectStatus; attrs: ScimAttrs }
  | { kind: 'event'; params: EventParams; detail: unknown }
  | { kind: 'inflight'; integration: string; cycleId: string; at: string; ops: { key: string; kind: string; sourceId: string }[] }
  | { kind: 'inflight.clear'; integration: string; key: string }
  | { kind: 'escrow'; params: Record<string, string | number> }
  | { kind: 'escrow.clear'; integration: string; key: string }
  | {
      kind: 'group';
      integration: string;
      group: { sourceId: string; targetId: string | null; status: ObjectStatus; displayName: string };
      change: { add?: readonly string[]; remove?: readonly string[]; members?: readonly string[] };
      at: string;
    }
  | { kind: 'memberships.drop'; integration: string; userId: string };

interface EscrowRow {
  op_key: string;
  fingerprint: string;
  kind: string;
  source_id: string;
  cycles: number;
  attempts: number;
  last_error: string;
  first_failed_at: string;
  last_failed_at: string;
  given_up: number;
}

interface ObjectRow {
  source_id: string;
  target_id: string | null;
  status: ObjectStatus;
  attrs: string;
}

interface EventRow {
  id: number;
  time: string;
  integration: string;
  cycle_id: string | null;
  type: EventType;
  result: EventResult;
  source_id: string | null;
  target_id: string | null;
  summary: string;
  detail: string;
}

/**
 * The SQLite state: what was pushed for every object of every integration, the
 * cycles, and the audit events. WAL mode; every write is its own transaction so
 * a crash loses at most the request that was in flight.
 */
export class StateStore {
  readonly db: Database.Database;
  private readonly stmts;
  /** An in-flight record was written and is not committed yet. */
  private inflightPending = false;
  /** The writer thread of a delivery in progress (startBackgroundWrites). */
  private writer: BackgroundWriter | undefined;
  /** A writer thread started ahead of a delivery (prepareBackgroundWrites), booting while the cycle plans. */
  private spare: BackgroundWriter | undefined;
  /**
   * The last batch number of the writers that have stopped: a later writer
   * numbers on from it, so that a ticket handed out before (by a delivery of
   * another integration running beside) is never mistaken for a future batch.
   */
  private lastTicket = 0;
  /** The fingerprint key, read once (fingerprintKey). */
  private key: Buffer | undefined;

  private constructor(
    db: Database.Database,
    private readonly path: string,
  ) {
    this.db = db;
    this.stmts = {
      loadUsersRaw: db.prepare(`SELECT source_id, target_id, status, digest FROM objects WHERE integration = ? AND kind = 'user'`).raw(true),
      userNames: db.prepare(
        `SELECT source_id, json_extract(attrs, '$.userName'), json_extract(attrs, '$.displayName') FROM objects WHERE integration = ? AND kind = 'user'`,
      ).raw(true),
      userAttrs: db.prepare<[string, string], string>(`SELECT attrs FROM objects WHERE integration = ? AND kind = 'user' AND source_id = ?`).pluck(),
      upsertUser: db.prepare<UserRow>(
        `INSERT INTO objects (integration, kind, source_id, target_id, status, attrs, digest, created_at, updated_at)
         VALUES (?, 'user', ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (integration, kind, source_id) DO UPDATE SET
           target_id = excluded.target_id, status = excluded.status, attrs = excluded.attrs, digest = excluded.digest,
           updated_at = excluded.updated_at`,
      ),
      loadGroups: db.prepare<[string], ObjectRow & { digest: number | null }>(
        `SELECT source_id, target_id, status, attrs, digest FROM objects WHERE integration = ? AND kind = 'group'`,
      ),
      groupMembers: db.prepare<[string, string], string>(`SELECT user_id FROM group_members WHERE integration = ? AND group_id = ?`).pluck(),
      membershipCount: db.prepare<[string], number>(`SELECT COUNT(*) FROM group_members WHERE integration = ?`).pluck(),
      // A new group has no members yet: its member digest starts empty, and saveGroup keeps it.
      upsertGroup: db.prepare(
        `INSERT INTO objects (integration, kind, source_id, target_id, status, attrs, digest, created_at, updated_at)
         VALUES (@integration, 'group', @sourceId, @targetId, @status, @attrs, ${NO_MEMBERS}, @now, @now)
         ON CONFLICT (integration, kind, source_id) DO UPDATE SET
           target_id = excluded.target_id, status = excluded.status, attrs = excluded.attrs, updated_at = excluded.updated_at`,
      ),
      groupDigest: db.prepare<[string, string], number | null>(`SELECT digest FROM objects WHERE integration = ? AND kind = 'group' AND source_id = ?`).pluck(),
      setGroupDigest: db.prepare(`UPDATE objects SET digest = ? WHERE integration = ? AND kind = 'group' AND source_id = ?`),
      addMember: db.prepare(`INSERT OR IGNORE INTO group_members (integration, group_id, user_id) VALUES (?, ?, ?)`),
      addMembers: db.prepare(`INSERT OR IGNORE INTO group_members (integration, group_id, user_id) SELECT ?, ?, value FROM json_each(?)`),
      removeMember: db.prepare(`DELETE FROM group_members WHERE integration = ? AND group_id = ? AND user_id = ?`),
      clearMembers: db.prepare(`DELETE FROM group_members WHERE integration = ? AND group_id = ?`),
      dropUser: db.prepare<[string, string], string>(`DELETE FROM group_members WHERE integration = ? AND user_id = ? RETURNING group_id`).pluck(),
      loadEscrow: db.prepare<[string], EscrowRow>(`SELECT * FROM escrow WHERE integration = ? ORDER BY op_key`),
      getEscrow: db.prepare<[string, string], EscrowRow>(`SELECT * FROM escrow WHERE integration = ? AND op_key = ?`),
      putEscrow: db.prepare(
        `INSERT INTO escrow (integration, op_key, fingerprint, kind, source_id, cycles, attempts, last_error, first_failed_at, last_failed_at, given_up)
         VALUES (@integration, @key, @fingerprint, @kind, @sourceId, @cycles, @attempts, @lastError, @firstFailedAt, @lastFailedAt, @givenUp)
         ON CONFLICT (integration, op_key) DO UPDATE SET fingerprint = excluded.fingerprint, kind = excluded.kind,
           source_id = excluded.source_id, cycles = excluded.cycles, attempts = excluded.attempts, last_error = excluded.last_error,
           first_failed_at = excluded.first_failed_at, last_failed_at = excluded.last_failed_at, given_up = excluded.given_up`,
      ),
      clearEscrow: db.prepare(`DELETE FROM escrow WHERE integration = ? AND op_key = ?`),
      putInflights: db.prepare(
        `INSERT OR REPLACE INTO inflight (integration, op_key, kind, source_id, cycle_id, started_at)
         SELECT @integration, value ->> 'key', value ->> 'kind', value ->> 'sourceId', @cycleId, @at FROM json_each(@ops)`,
      ),
      clearInflight: db.prepare(`DELETE FROM inflight WHERE integration = ? AND op_key = ?`),
      clearInflights: db.prepare(`DELETE FROM inflight WHERE integration = ? AND op_key IN (SELECT value FROM json_each(?))`),
      loadInflight: db.prepare<[string], { op_key: string; kind: string; source_id: string; cycle_id: string; started_at: string }>(
        `SELECT * FROM inflight WHERE integration = ?`,
      ),
      clearAllInflight: db.prepare(`DELETE FROM inflight WHERE integration = ?`),
      getQuarantine: db.prepare<[string], { quarantine_until: string | null; quarantine_level: number; quarantine_reason: string | null }>(
        `SELECT quarantine_until, quarantine_level, quarantine_reason FROM integrations WHERE name = ?`,
      ),
      setQuarantine: db.prepare(`UPDATE integrations SET quarantine_until = ?, quarantine_level = ?, quarantine_reason = ? WHERE name = ?`),
      getSourceUsers: db.prepare<[string], { last_source_users: number | null }>(`SELECT last_source_users FROM integrations WHERE name = ?`),
      setSourceUsers: db.prepare(`UPDATE integrations SET last_source_users = ? WHERE name = ?`),
      takeLease: db.prepare(
        `INSERT INTO leases (integration, owner, expires_at) VALUES (@integration, @owner, @expires)
         ON CONFLICT (integration) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE leases.expires_at < @now OR leases.owner = excluded.owner`,
      ),
      releaseLease: db.prepare(`DELETE FROM leases WHERE integration = ? AND owner = ?`),
      pruneEvents: db.prepare(`DELETE FROM events WHERE time < ?`),
      knownIntegrations: db.prepare<[], { name: string }>(`SELECT name FROM integrations ORDER BY name`),
      interruptCycles: db.prepare(`UPDATE cycles SET outcome = 'interrupted' WHERE integration = ? AND ended_at IS NULL AND id != ?`),
      lastCycle: db.prepare<[string], { id: string; integration: string; started_at: string; ended_at: string | null; outcome: string | null; counts: string | null }>(
        `SELECT * FROM cycles WHERE integration = ? AND dry_run = 0 ORDER BY started_at DESC, rowid DESC LIMIT 1`,
      ),
      objectCounts: db.prepare<[string], { kind: string; status: string; n: number }>(
        `SELECT kind, status, COUNT(*) AS n FROM objects WHERE integration = ? AND target_id IS NOT NULL GROUP BY kind, status`,
      ),
      insertEvent: db.prepare<[...EventParams, string]>(
        `INSERT INTO events (time, integration, cycle_id, type, result, source_id, target_id, summary, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      startCycle: db.prepare(
        `INSERT INTO cycles (id, integration, started_at, dry_run) VALUES (?, ?, ?, ?)`,
      ),
      finishCycle: db.prepare(`UPDATE cycles SET ended_at = ?, outcome = ?, counts = ? WHERE id = ?`),
      getIntegration: db.prepare<[string], { name: string; config_hash: string; auth_hash: string }>(
        `SELECT name, config_hash, auth_hash FROM integrations WHERE name = ?`,
      ),
      putIntegration: db.prepare(
        `INSERT INTO integrations (name, config_hash, auth_hash, created_at, updated_at) VALUES (@name, @configHash, @authHash, @now, @now)
         ON CONFLICT (name) DO UPDATE SET config_hash = excluded.config_hash, auth_hash = excluded.auth_hash, updated_at = excluded.updated_at`,
      ),
    };
  }

  /**
   * Opens the state at `path`, creating it where there is none (state/open.ts); a file
   * that cannot be used as a state is a StateFileError, and nothing is written.
   */
  static open(path: string): StateStore {
    const db = openStateFile(path);
    try {
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      // For the migration that adds the digests to existing state.
      db.function('scimsync_attrs_digest', { deterministic: true }, (text: unknown) =>
        typeof text === 'string' ? attrsDigest(JSON.parse(text) as ScimAttrs) : null,
      );
      db.aggregate('scimsync_members_digest', {
        start: NO_MEMBERS,
        step: (digest: number, id: unknown) => (typeof id === 'string' ? withMember(digest, id) : digest),
      });
      // For the migration that gives the state its fingerprint key: from the system's CSPRNG.
      db.function('scimsync_random_key', { deterministic: false }, () => randomBytes(FINGERPRINT_KEY_BYTES));
      migrate(db);
      return new StateStore(db, path);
    } catch (err) {
      db.close();
      throw stateFileFailure(path, err);
    }
  }

  /**
   * This state's key for the integrations' fingerprints (src/engine/integration-hashes.ts):
   * made once, when the state was created or upgraded, and kept in it.
   */
  fingerprintKey(): Buffer {
    if (this.key) return this.key;
    const key: unknown = this.db.prepare(`SELECT value FROM meta WHERE key = 'fingerprint_key'`).pluck().get();
    if (!Buffer.isBuffer(key) || key.length !== FINGERPRINT_KEY_BYTES) {
      throw new StateFileError(this.path, 'its fingerprint key is missing or damaged: restore it from a backup');
    }
    this.key = key;
    return key;
  }

  /**
   * A write of the kind a cycle's delivery makes: on the writer thread while
   * one runs, else here. Group commit either way: writes made within a few
   * milliseconds share one transaction, committed by a short timer (or at once
   * by `flush`). What must be durable before a request goes out — the
   * in-flight record — is waited for with `awaitInflight`; a result lost to a
   * crash before its commit leaves that record behind, and the next cycle
   * checks the target for it.
   */
  private submit(w: WriteCommand): void {
    if (this.writer) return this.writer.push(w);
    if (!this.db.inTransaction) {
      this.db.exec('BEGIN');
      setTimeout(() => this.flush(), GROUP_COMMIT_MS).unref();
    }
    this.applyWrite(w);
  }

  /**
   * Runs a batch of writes (the writer thread, inside one transaction). In-flight records
   * cleared by the batch are deleted together at its end, or before a record is put again:
   * the same outcome as one by one, in fewer statements.
   */
  applyBatch(writes: readonly WriteCommand[]): void {
    const clears = new Map<string, string[]>();
    const flushClears = () => {
      for (const [integration, keys] of clears) this.stmts.clearInflights.run(integration, JSON.stringify(keys));
      clears.clear();
    };
    for (const w of writes) {
      if (w.kind === 'inflight.clear') {
        const keys = clears.get(w.integration);
        if (keys) keys.push(w.key);
        else clears.set(w.integration, [w.key]);
        continue;
      }
      if (w.kind === 'inflight' && clears.size > 0) flushClears();
      this.applyWrite(w);
    }
    flushClears();
  }

  /** Runs one write on this connection (the writer thread calls it inside its own transactions). */
  applyWrite(w: WriteCommand): void {
    switch (w.kind) {
      case 'user': {
        // Stamped where it is written: a few milliseconds after the result, on the writer thread.
        const at = new Date().toISOString();
        this.stmts.upsertUser.run(w.integration, w.sourceId, w.targetId, w.status, JSON.stringify(w.attrs), attrsDigest(w.attrs), at, at);
        return;
      }
      case 'event':
        this.stmts.insertEvent.run(...w.params, JSON.stringify(w.detail));
        return;
      case 'inflight':
        // A window of records in one statement, SQLite looping over the list.
        this.stmts.putInflights.run({ integration: w.integration, cycleId: w.cycleId, at: w.at, ops: JSON.stringify(w.ops) });
        return;
      case 'inflight.clear':
        this.stmts.clearInflight.run(w.integration, w.key);
        return;
      case 'escrow':
        this.stmts.putEscrow.run(w.params);
        return;
      case 'escrow.clear':
        this.stmts.clearEscrow.run(w.integration, w.key);
        return;
      case 'group':
        this.db.transaction(() => this.applyGroup(w))();
        return;
      case 'memberships.drop':
        this.db.transaction(() => this.applyDropMemberships(w.integration, w.userId))();
        return;
    }
  }

  /**
   * Hands the writes of a delivery to a thread of their own, so that SQLite
   * works beside the HTTP loop instead of between its requests. Same
   * guarantees: results are committed together every few milliseconds, and
   * `awaitInflight` returns only once the in-flight records are committed.
   * Returns false where the writer cannot run (scimsync run from its
   * TypeScript sources); the writes then stay on this thread.
   */
  startBackgroundWrites(): boolean {
    if (this.writer || this.path === ':memory:') return this.writer !== undefined;
    this.flush();
    const writer = this.spare ?? BackgroundWriter.start(this.path, WRITER_COMMIT_MS);
    this.spare = undefined;
    writer?.numberFrom(this.lastTicket);
    this.writer = writer;
    return writer !== undefined;
  }

  /**
   * Starts the writer thread of the next delivery now, writes still staying
   * here: its thread boots (a few tens of milliseconds) while the cycle reads
   * its source and plans, instead of holding up the first request.
   */
  prepareBackgroundWrites(): void {
    if (this.writer || this.spare || this.path === ':memory:') return;
    this.spare = BackgroundWriter.start(this.path, WRITER_COMMIT_MS);
  }

  /** Waits for every write handed to the writer thread to be committed, and stops it. */
  async stopBackgroundWrites(): Promise<void> {
    const writer = this.writer;
    if (!writer) return;
    this.writer = undefined;
    this.inflightPending = false;
    try {
      writer.stop();
    } finally {
      this.lastTicket = writer.lastPosted;
    }
  }

  /** Commits what has been written so far (on the writer thread too, waiting for it). */
  flush(): void {
    this.inflightPending = false;
    this.writer?.sync();
    if (this.db.open && this.db.inTransaction) this.db.exec('COMMIT');
  }

  close(): void {
    this.flush();
    this.writer?.terminate();
    this.spare?.terminate();
    this.writer = undefined;
    this.spare = undefined;
    this.db.close();
  }

  /**
   * Every user of an integration, with the digest of its attributes; the
   * attributes themselves are read when first looked at (most users of a
   * cycle are unchanged, and their digest is all planning needs).
   */
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

  /** The userName and displayName last pushed for every user, without the rest of the attributes. */
  loadUserNames(integration: string): { sourceId: string; names: unknown[] }[] {
    return (this.stmts.userNames.all(integration) as [string, unknown, unknown][]).map(([sourceId, ...names]) => ({ sourceId, names }));
  }

  /** Records what was pushed for a user. With the writer thread it is serialised a few milliseconds later: the caller does not change `user.attrs` afterwards. */
  saveUser(integration: string, user: StateUser): void {
    this.submit({ kind: 'user', integration, sourceId: user.sourceId, targetId: user.targetId, status: user.status, attrs: user.attrs });
  }

  /**
   * Every group of an integration with the digest of the members last pushed;
   * the members themselves are read when first looked at (a group whose
   * members did not change is told by its digest).
   */
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

  /**
   * Records a group and a change of its members in one transaction. `members`
   * replaces the whole set when given; `add`/`remove` adjust it otherwise. The
   * group's member digest follows every member actually added or removed.
   */
  saveGroup(
    integration: string,
    group: { sourceId: string; targetId: string | null; status: ObjectStatus; displayName: string },
    change: { add?: readonly string[]; remove?: readonly string[]; members?: readonly string[] } = {},
    now: Date = new Date(),
  ): void {
    const copy = {
      ...(change.add ? { add: [...change.add] } : {}),
      ...(change.remove ? { remove: [...change.remove] } : {}),
      ...(change.members ? { members: [...change.members] } : {}),
    };
    this.submit({ kind: 'group', integration, group: { ...group }, change: copy, at: now.toISOString() });
  }

  private applyGroup(w: Extract<WriteCommand, { kind: 'group' }>): void {
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

  /** Forgets a user's memberships (its account was deleted or replaced in the target). */
  dropMemberships(integration: string, userId: string): void {
    this.submit({ kind: 'memberships.drop', integration, userId });
  }

  private applyDropMemberships(integration: string, userId: string): void {
    for (const groupId of this.stmts.dropUser.all(integration, userId)) {
      // Recounted after the delete already leaves the user out; a stored digest takes it out here.
      const stored = this.stmts.groupDigest.get(integration, groupId);
      const digest = stored === null || stored === undefined ? this.membersDigestOf(integration, groupId) : withoutMember(stored, userId);
      this.stmts.setGroupDigest.run(digest, integration, groupId);
    }
  }

  startCycle(id: string, integration: string, dryRun: boolean, now: Date = new Date()): void {
    this.stmts.startCycle.run(id, integration, now.toISOString(), dryRun ? 1 : 0);
  }

  finishCycle(id: string, outcome: CycleOutcome, counts: CycleCounts, now: Date = new Date()): void {
    this.stmts.finishCycle.run(now.toISOString(), outcome, JSON.stringify(counts), id);
  }

  getIntegration(name: string): IntegrationRecord | undefined {
    const r = this.stmts.getIntegration.get(name);
    return r ? { name: r.name, configHash: r.config_hash, authHash: r.auth_hash } : undefined;
  }

  putIntegration(rec: IntegrationRecord, now: Date = new Date()): void {
    this.stmts.putIntegration.run({ ...rec, now: now.toISOString() });
  }

  loadEscrow(integration: string): EscrowEntry[] {
    return this.stmts.loadEscrow.all(integration).map(escrowOf);
  }

  /**
   * Records a failed operation. A failure of the same operation (same fingerprint)
   * in a later cycle counts one more cycle; a changed operation starts again at 1.
   */
  recordFailure(
    integration: string,
    op: { key: string; fingerprint: string; kind: string; sourceId: string },
    failure: { error: string; attempts: number; cycleId: string },
    maxCycles: number,
    now: Date = new Date(),
  ): EscrowEntry {
    const prior = this.stmts.getEscrow.get(integration, op.key);
    const same = prior !== undefined && prior.fingerprint === op.fingerprint;
    const cycles = same ? prior.cycles + 1 : 1;
    const entry: EscrowEntry = {
      key: op.key,
      fingerprint: op.fingerprint,
      kind: op.kind,
      sourceId: op.sourceId,
      cycles,
      attempts: (same ? prior.attempts : 0) + failure.attempts,
      lastError: failure.error,
      firstFailedAt: same ? prior.first_failed_at : now.toISOString(),
      lastFailedAt: now.toISOString(),
      givenUp: cycles >= maxCycles,
    };
    this.submit({ kind: 'escrow', params: { integration, ...entry, givenUp: entry.givenUp ? 1 : 0 } });
    return entry;
  }

  clearEscrow(integration: string, key: string): void {
    this.submit({ kind: 'escrow.clear', integration, key });
  }

  /** Drops escrow entries for operations no longer planned (the source moved on). */
  pruneEscrow(integration: string, plannedKeys: ReadonlySet<string>): void {
    this.db.transaction(() => {
      for (const e of this.stmts.loadEscrow.all(integration)) {
        if (!plannedKeys.has(e.op_key)) this.stmts.clearEscrow.run(integration, e.op_key);
      }
    })();
  }

  /**
   * Records operations as in flight. They must be durable before their
   * requests are sent: `awaitInflight` the ticket returned here first.
   */
  markInflight(integration: string, ops: readonly { key: string; kind: string; sourceId: string }[], cycleId: string, now: Date = new Date()): number {
    this.submit({ kind: 'inflight', integration, cycleId, at: now.toISOString(), ops: ops.map((op) => ({ key: op.key, kind: op.kind, sourceId: op.sourceId })) });
    // On the writer thread it is posted at once: the sooner it is committed, the less a request waits for it.
    if (this.writer) {
      this.writer.post();
      return this.writer.lastPosted;
    }
    this.inflightPending = true;
    return 0;
  }

  /** Returns once the in-flight records of `ticket` (from markInflight) are committed. */
  awaitInflight(ticket: number): void {
    if (this.writer) this.writer.waitFor(ticket);
    else if (this.inflightPending) this.flush();
  }

  /** Whether writes go to the writer thread (a delivery in progress). */
  get writesInBackground(): boolean {
    return this.writer !== undefined;
  }

  clearInflight(integration: string, key: string): void {
    this.submit({ kind: 'inflight.clear', integration, key });
  }

  loadInflight(integration: string): InflightEntry[] {
    return this.stmts.loadInflight.all(integration).map((r) => ({
      key: r.op_key,
      kind: r.kind,
      sourceId: r.source_id,
      cycleId: r.cycle_id,
      startedAt: r.started_at,
    }));
  }

  /** Takes over what an interrupted cycle left: its in-flight records, and marks the cycle interrupted. */
  takeInterrupted(integration: string, currentCycleId: string): InflightEntry[] {
    return this.db.transaction(() => {
      const entries = this.loadInflight(integration);
      this.stmts.clearAllInflight.run(integration);
      this.stmts.interruptCycles.run(integration, currentCycleId);
      return entries;
    })();
  }

  getQuarantine(integration: string): (Quarantine & { level: number }) | undefined {
    const r = this.stmts.getQuarantine.get(integration);
    if (!r || r.quarantine_until === null) return undefined;
    return { until: r.quarantine_until, level: r.quarantine_level, reason: r.quarantine_reason ?? '' };
  }

  /**
   * Sets or (undefined) lifts the quarantine. Lifting resets the back-off level
   * unless `keepLevel` (a forced run that fails again backs off further).
   */
  setQuarantine(integration: string, q: Quarantine | undefined, keepLevel = false): void {
    if (q) this.stmts.setQuarantine.run(q.until, q.level, q.reason, integration);
    else this.stmts.setQuarantine.run(null, keepLevel ? this.quarantineLevel(integration) : 0, null, integration);
  }

  /** How many quarantines in a row, without a good cycle between them. */
  quarantineLevel(integration: string): number {
    return this.stmts.getQuarantine.get(integration)?.quarantine_level ?? 0;
  }

  /**
   * Takes (or renews) the lease on an integration for `ttlMs`. Atomic: of two
   * processes asking at once, one gets it. False when another owner holds an
   * unexpired lease.
   */
  takeLease(integration: string, owner: string, ttlMs: number, now: number = Date.now()): boolean {
    const taken = this.stmts.takeLease.run({ integration, owner, expires: now + ttlMs, now }).changes === 1;
    this.flush();
    return taken;
  }

  releaseLease(integration: string, owner: string): void {
    this.stmts.releaseLease.run(integration, owner);
  }

  /** Deletes events older than `before` (ISO time); returns how many. */
  pruneEvents(before: string): number {
    return this.stmts.pruneEvents.run(before).changes;
  }

  /** Integrations the state knows, configured or not. */
  knownIntegrations(): string[] {
    return this.stmts.knownIntegrations.all().map((r) => r.name);
  }

  /** Drops everything kept for an integration except its audit events. */
  purgeIntegration(integration: string): { objects: number } {
    return this.db.transaction(() => {
      const objects = this.db.prepare('DELETE FROM objects WHERE integration = ?').run(integration).changes;
      for (const table of ['group_members', 'escrow', 'inflight', 'held_plans']) this.db.prepare(`DELETE FROM ${table} WHERE integration = ?`).run(integration);
      this.db.prepare('DELETE FROM leases WHERE integration = ?').run(integration);
      this.db.prepare('DELETE FROM integrations WHERE name = ?').run(integration);
      return { objects };
    })();
  }

  getHeldPlan(integration: string): HeldPlan | undefined {
    const r = this.db
      .prepare<[string], { held_at: string; reason: string; managed: number; objects: string; approved_at: string | null }>(
        'SELECT * FROM held_plans WHERE integration = ?',
      )
      .get(integration);
    if (!r) return undefined;
    return { heldAt: r.held_at, reason: r.reason, managed: r.managed, objects: JSON.parse(r.objects) as HeldObject[], approvedAt: r.approved_at };
  }

  /** Records a held plan. The same deprovisions held again keep their approval; different ones lose it. */
  holdPlan(integration: string, plan: Omit<HeldPlan, 'approvedAt' | 'heldAt'>, now: Date = new Date()): HeldPlan {
    const prior = this.getHeldPlan(integration);
    const key = (objs: HeldObject[]) => objs.map((o) => `${o.kind}:${o.sourceId}`).sort().join('\n');
    const approvedAt = prior && key(prior.objects) === key(plan.objects) ? prior.approvedAt : null;
    const held: HeldPlan = { ...plan, heldAt: now.toISOString(), approvedAt };
    this.db
      .prepare(
        `INSERT OR REPLACE INTO held_plans (integration, held_at, reason, managed, objects, approved_at) VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(integration, held.heldAt, held.reason, held.managed, JSON.stringify(held.objects), approvedAt);
    return held;
  }

  /** Approves (a date) or withdraws the approval of (null) the held plan; false when none is held. */
  setApproval(integration: string, approvedAt: string | null): boolean {
    return this.db.prepare('UPDATE held_plans SET approved_at = ? WHERE integration = ?').run(approvedAt, integration).changes === 1;
  }

  clearHeldPlan(integration: string): void {
    this.db.prepare('DELETE FROM held_plans WHERE integration = ?').run(integration);
  }

  /**
   * Objects whose source id, target id, userName or displayName (any case) is `key`,
   * with their memberships: what `state show` prints.
   */
  findObjects(integration: string | undefined, key: string): StoredObject[] {
    const rows = this.db
      .prepare<Record<string, string | null>, { integration: string; kind: 'user' | 'group'; source_id: string; target_id: string | null; status: ObjectStatus; attrs: string; created_at: string; updated_at: string }>(
        `SELECT integration, kind, source_id, target_id, status, attrs, created_at, updated_at FROM objects
         WHERE (@integration IS NULL OR integration = @integration)
           AND (source_id = @key OR target_id = @key OR lower(json_extract(attrs, '$.userName')) = lower(@key)
                OR lower(json_extract(attrs, '$.displayName')) = lower(@key))
         ORDER BY integration, kind, source_id`,
      )
      .all({ integration: integration ?? null, key });
    const groupsOf = this.db.prepare<[string, string], { group_id: string }>(`SELECT group_id FROM group_members WHERE integration = ? AND user_id = ? ORDER BY group_id`);
    const membersOf = this.db.prepare<[string, string], { user_id: string }>(`SELECT user_id FROM group_members WHERE integration = ? AND group_id = ? ORDER BY user_id`);
    return rows.map((r) => ({
      integration: r.integration,
      kind: r.kind,
      sourceId: r.source_id,
      targetId: r.target_id,
      status: r.status,
      attrs: JSON.parse(r.attrs) as ScimAttrs,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      ...(r.kind === 'user'
        ? { groups: groupsOf.all(r.integration, r.source_id).map((g) => g.group_id) }
        : { members: membersOf.all(r.integration, r.source_id).map((m) => m.user_id) }),
      escrow: this.stmts.loadEscrow.all(r.integration).filter((e) => e.source_id === r.source_id).map(escrowOf),
    }));
  }

  /** Forgets an integration's objects, memberships, escrow and in-flight records (a rebuild starts from nothing). */
  purgeObjects(integration: string): void {
    this.db.transaction(() => {
      for (const table of ['objects', 'group_members', 'escrow', 'inflight', 'held_plans']) {
        this.db.prepare(`DELETE FROM ${table} WHERE integration = ?`).run(integration);
      }
    })();
  }

  /** Source ids whose last pushed userName is `userName` (any case). */
  sourceIdsByUserName(integration: string | undefined, userName: string): string[] {
    const rows = this.db
      .prepare<[string, string | null, string | null], { source_id: string }>(
        `SELECT source_id FROM objects WHERE kind = 'user' AND lower(json_extract(attrs, '$.userName')) = lower(?) AND (? IS NULL OR integration = ?)`,
      )
      .all(userName, integration ?? null, integration ?? null);
    return rows.map((r) => r.source_id);
  }

  /** Group memberships last pushed, for the shrink guard. */
  membershipCount(integration: string): number {
    return this.stmts.membershipCount.get(integration) ?? 0;
  }

  /** Users in the last good snapshot, for the shrink guard. */
  lastSourceUsers(integration: string): number | undefined {
    return this.stmts.getSourceUsers.get(integration)?.last_source_users ?? undefined;
  }

  setLastSourceUsers(integration: string, n: number): void {
    this.stmts.setSourceUsers.run(n, integration);
  }

  lastCycle(integration: string): CycleRecord | undefined {
    const r = this.stmts.lastCycle.get(integration);
    if (!r) return undefined;
    return {
      id: r.id,
      integration: r.integration,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      outcome: r.outcome,
      counts: r.counts ? (JSON.parse(r.counts) as Record<string, number>) : {},
    };
  }

  /** Linked objects by kind and status, e.g. `{ user: { active: 10, inactive: 2 }, group: { active: 3 } }`. */
  objectCounts(integration: string): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const r of this.stmts.objectCounts.all(integration)) (out[r.kind] ??= {})[r.status] = r.n;
    return out;
  }

  /** Records an event. With the writer thread it is serialised a few milliseconds later: the caller does not change it afterwards. */
  insertEvent(e: NewEvent): void {
    // The detail goes as it is: serialised once, where the write runs.
    this.submit({
      kind: 'event',
      params: [e.time, e.integration, e.cycleId ?? null, e.type, e.result, e.sourceId ?? null, e.targetId ?? null, e.summary],
      detail: e.detail ?? {},
    });
  }

  queryEvents(q: EventQuery): EventRecord[] {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    const add = (clause: string, key: string, value: string | number | undefined) => {
      if (value === undefined || value === '') return;
      where.push(clause);
      params[key] = value;
    };
    add('integration = @integration', 'integration', q.integration);
    add('type = @type', 'type', q.type);
    add('result = @result', 'result', q.result);
    add(
      `(source_id = @user OR target_id = @user OR source_id IN (SELECT o.source_id FROM objects o WHERE o.kind = 'user'
         AND o.integration = events.integration AND lower(json_extract(o.attrs, '$.userName')) = lower(@user)))`,
      'user',
      q.user,
    );
    add('time >= @since', 'since', q.since);
    add('time <= @until', 'until', q.until);
    add('id > @afterId', 'afterId', q.afterId);
    // With a limit, the newest events, still listed oldest first.
    const filtered = `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
    const sql = q.limit ? `SELECT * FROM (${filtered} ORDER BY id DESC LIMIT ${Math.floor(q.limit)}) ORDER BY id` : `${filtered} ORDER BY id`;
    return this.db
      .prepare<Record<string, string | number>, EventRow>(sql)
      .all(params)
      .map((r) => ({
        id: r.id,
        time: r.time,
        integration: r.integration,
        cycleId: r.cycle_id,
        type: r.type,
        result: r.result,
        sourceId: r.source_id,
        targetId: r.target_id,
        summary: r.summary,
        detail: JSON.parse(r.detail) as Record<string, unknown>,
      }));
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

/** How long writes gather before their commit: on the main thread, and on a delivery's writer thread (fewer, larger transactions). */
const GROUP_COMMIT_MS = 10;
const WRITER_COMMIT_MS = 25;

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

function escrowOf(r: EscrowRow): EscrowEntry {
  return {
    key: r.op_key,
    fingerprint: r.fingerprint,
    kind: r.kind,
    sourceId: r.source_id,
    cycles: r.cycles,
    attempts: r.attempts,
    lastError: r.last_error,
    firstFailedAt: r.first_failed_at,
    lastFailedAt: r.last_failed_at,
    givenUp: r.given_up === 1,
  };
}

function migrate(db: Database.Database): void {
  // Up to date (the common case, and always so for the writer thread): a read, no write lock taken.
  const table = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).get();
  if (table) {
    const applied = new Set(db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version));
    if (migrations.every((m) => applied.has(m.version))) return;
  }
  // One process at a time (BEGIN IMMEDIATE takes the write lock; others wait on busy_timeout),
  // re-reading what is applied inside the lock: two processes opening a new database never
  // apply the same migration twice.
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`);
    const applied = new Set(
      db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version),
    );
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, new Date().toISOString());
    }
  }).immediate();
}
