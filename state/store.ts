import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { StateGroup } from '../src/engine/groups.js';
import type { ObjectStatus, StateUser } from '../src/engine/plan.js';
import type { ScimAttrs } from '../src/scim/attributes.js';
import type { EventRecord, EventResult, EventType, NewEvent } from '../src/events/types.js';
import { migrations } from './migrations.js';

export interface CycleCounts {
  [counter: string]: number;
}

export type CycleOutcome = 'success' | 'partial' | 'aborted' | 'failed';

export interface EventQuery {
  integration?: string;
  type?: EventType;
  result?: EventResult;
  /** Matches source id or target id. */
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

  private constructor(db: Database.Database) {
    this.db = db;
    this.stmts = {
      loadUsers: db.prepare<[string], ObjectRow>(
        `SELECT source_id, target_id, status, attrs FROM objects WHERE integration = ? AND kind = 'user'`,
      ),
      upsertUser: db.prepare(
        `INSERT INTO objects (integration, kind, source_id, target_id, status, attrs, created_at, updated_at)
         VALUES (@integration, 'user', @sourceId, @targetId, @status, @attrs, @now, @now)
         ON CONFLICT (integration, kind, source_id) DO UPDATE SET
           target_id = excluded.target_id, status = excluded.status, attrs = excluded.attrs, updated_at = excluded.updated_at`,
      ),
      loadGroups: db.prepare<[string], ObjectRow>(
        `SELECT source_id, target_id, status, attrs FROM objects WHERE integration = ? AND kind = 'group'`,
      ),
      loadMembers: db.prepare<[string], { group_id: string; user_id: string }>(
        `SELECT group_id, user_id FROM group_members WHERE integration = ?`,
      ),
      upsertGroup: db.prepare(
        `INSERT INTO objects (integration, kind, source_id, target_id, status, attrs, created_at, updated_at)
         VALUES (@integration, 'group', @sourceId, @targetId, @status, @attrs, @now, @now)
         ON CONFLICT (integration, kind, source_id) DO UPDATE SET
           target_id = excluded.target_id, status = excluded.status, attrs = excluded.attrs, updated_at = excluded.updated_at`,
      ),
      addMember: db.prepare(`INSERT OR IGNORE INTO group_members (integration, group_id, user_id) VALUES (?, ?, ?)`),
      removeMember: db.prepare(`DELETE FROM group_members WHERE integration = ? AND group_id = ? AND user_id = ?`),
      clearMembers: db.prepare(`DELETE FROM group_members WHERE integration = ? AND group_id = ?`),
      dropUser: db.prepare(`DELETE FROM group_members WHERE integration = ? AND user_id = ?`),
      insertEvent: db.prepare(
        `INSERT INTO events (time, integration, cycle_id, type, result, source_id, target_id, summary, detail)
         VALUES (@time, @integration, @cycleId, @type, @result, @sourceId, @targetId, @summary, @detail)`,
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

  static open(path: string): StateStore {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    migrate(db);
    return new StateStore(db);
  }

  close(): void {
    this.db.close();
  }

  /** Every user of an integration, in one query. */
  loadUsers(integration: string): StateUser[] {
    return this.stmts.loadUsers.all(integration).map((r) => ({
      sourceId: r.source_id,
      targetId: r.target_id,
      status: r.status,
      attrs: JSON.parse(r.attrs) as ScimAttrs,
    }));
  }

  saveUser(integration: string, user: StateUser, now: Date = new Date()): void {
    this.stmts.upsertUser.run({
      integration,
      sourceId: user.sourceId,
      targetId: user.targetId,
      status: user.status,
      attrs: JSON.stringify(user.attrs),
      now: now.toISOString(),
    });
  }

  /** Every group of an integration with the members last pushed: two queries. */
  loadGroups(integration: string): StateGroup[] {
    const members = new Map<string, Set<string>>();
    for (const r of this.stmts.loadMembers.all(integration)) {
      let set = members.get(r.group_id);
      if (!set) members.set(r.group_id, (set = new Set()));
      set.add(r.user_id);
    }
    return this.stmts.loadGroups.all(integration).map((r) => ({
      sourceId: r.source_id,
      targetId: r.target_id,
      status: r.status,
      displayName: String((JSON.parse(r.attrs) as { displayName?: unknown }).displayName ?? ''),
      members: members.get(r.source_id) ?? new Set<string>(),
    }));
  }

  /**
   * Records a group and a change of its members in one transaction. `members`
   * replaces the whole set when given; `add`/`remove` adjust it otherwise.
   */
  saveGroup(
    integration: string,
    group: { sourceId: string; targetId: string | null; status: ObjectStatus; displayName: string },
    change: { add?: readonly string[]; remove?: readonly string[]; members?: readonly string[] } = {},
    now: Date = new Date(),
  ): void {
    this.db.transaction(() => {
      this.stmts.upsertGroup.run({
        integration,
        sourceId: group.sourceId,
        targetId: group.targetId,
        status: group.status,
        attrs: JSON.stringify({ displayName: group.displayName }),
        now: now.toISOString(),
      });
      if (change.members) this.stmts.clearMembers.run(integration, group.sourceId);
      for (const u of change.members ?? []) this.stmts.addMember.run(integration, group.sourceId, u);
      for (const u of change.remove ?? []) this.stmts.removeMember.run(integration, group.sourceId, u);
      for (const u of change.add ?? []) this.stmts.addMember.run(integration, group.sourceId, u);
    })();
  }

  /** Forgets a user's memberships (its account was deleted or replaced in the target). */
  dropMemberships(integration: string, userId: string): void {
    this.stmts.dropUser.run(integration, userId);
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

  insertEvent(e: NewEvent): number {
    const info = this.stmts.insertEvent.run({
      time: e.time,
      integration: e.integration,
      cycleId: e.cycleId ?? null,
      type: e.type,
      result: e.result,
      sourceId: e.sourceId ?? null,
      targetId: e.targetId ?? null,
      summary: e.summary,
      detail: JSON.stringify(e.detail ?? {}),
    });
    return Number(info.lastInsertRowid);
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
    add('(source_id = @user OR target_id = @user)', 'user', q.user);
    add('time >= @since', 'since', q.since);
    add('time <= @until', 'until', q.until);
    add('id > @afterId', 'afterId', q.afterId);
    const sql =
      `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id` +
      (q.limit ? ` LIMIT ${Math.floor(q.limit)}` : '');
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

function migrate(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`);
  const applied = new Set(
    db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version),
  );
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, new Date().toISOString());
    })();
  }
}
