import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { ScimAttrs } from '../../src/core/attributes.js';
import { attrsDigest, NO_MEMBERS, withMember } from '../../src/core/digest.js';

/** The length of a state's fingerprint key (migration 8). */
export const FINGERPRINT_KEY_BYTES = 32;

/** Versioned schema migrations, applied in order on open. Never edit a shipped one: add the next. */
export const migrations: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE objects (
        integration TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('user', 'group')),
        source_id   TEXT NOT NULL,
        target_id   TEXT,
        status      TEXT NOT NULL CHECK (status IN ('active', 'inactive', 'deleted')),
        attrs       TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (integration, kind, source_id)
      ) WITHOUT ROWID;

      CREATE TABLE cycles (
        id          TEXT PRIMARY KEY,
        integration TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        ended_at    TEXT,
        dry_run     INTEGER NOT NULL DEFAULT 0,
        outcome     TEXT,
        counts      TEXT
      );
      CREATE INDEX cycles_by_integration ON cycles (integration, started_at);

      CREATE TABLE events (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        time        TEXT NOT NULL,
        integration TEXT NOT NULL,
        cycle_id    TEXT,
        type        TEXT NOT NULL,
        result      TEXT NOT NULL CHECK (result IN ('success', 'failure', 'skipped')),
        source_id   TEXT,
        target_id   TEXT,
        summary     TEXT NOT NULL,
        detail      TEXT NOT NULL
      );
      CREATE INDEX events_by_time ON events (time);

      CREATE TABLE integrations (
        name        TEXT PRIMARY KEY,
        config_hash TEXT NOT NULL,
        auth_hash   TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    sql: `
      -- The member set last pushed to each group (user source ids).
      CREATE TABLE group_members (
        integration TEXT NOT NULL,
        group_id    TEXT NOT NULL,
        user_id     TEXT NOT NULL,
        PRIMARY KEY (integration, group_id, user_id)
      ) WITHOUT ROWID;
      CREATE INDEX group_members_by_user ON group_members (integration, user_id);
    `,
  },
  {
    version: 3,
    sql: `
      -- Operations that failed, kept for retry at the next cycles until given up.
      CREATE TABLE escrow (
        integration    TEXT NOT NULL,
        op_key         TEXT NOT NULL,
        fingerprint    TEXT NOT NULL,
        kind           TEXT NOT NULL,
        source_id      TEXT NOT NULL,
        cycles         INTEGER NOT NULL,
        attempts       INTEGER NOT NULL,
        last_error     TEXT NOT NULL,
        first_failed_at TEXT NOT NULL,
        last_failed_at TEXT NOT NULL,
        given_up       INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (integration, op_key)
      ) WITHOUT ROWID;

      -- Operations whose request may be on the wire: written before sending, removed after commit.
      CREATE TABLE inflight (
        integration TEXT NOT NULL,
        op_key      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        source_id   TEXT NOT NULL,
        cycle_id    TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        PRIMARY KEY (integration, op_key)
      ) WITHOUT ROWID;

      ALTER TABLE integrations ADD COLUMN quarantine_until TEXT;
      ALTER TABLE integrations ADD COLUMN quarantine_level INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE integrations ADD COLUMN quarantine_reason TEXT;
    `,
  },
  {
    version: 4,
    sql: `
      -- Users in the last snapshot that completed a cycle: the shrink guard's reference.
      ALTER TABLE integrations ADD COLUMN last_source_users INTEGER;
    `,
  },
  {
    version: 5,
    sql: `
      -- One cycle of an integration at a time, across processes: a lease with an expiry.
      CREATE TABLE leases (
        integration TEXT PRIMARY KEY,
        owner       TEXT NOT NULL,
        expires_at  INTEGER NOT NULL
      );
      CREATE INDEX events_by_integration_time ON events (integration, time);
    `,
  },
  {
    version: 6,
    sql: `
      -- A cycle held for deprovisioning too much (safety.maxDeletes / maxDeletePercent),
      -- with what it would deprovision, and the admin's approval to apply it once.
      CREATE TABLE held_plans (
        integration  TEXT PRIMARY KEY,
        held_at      TEXT NOT NULL,
        reason       TEXT NOT NULL,
        managed      INTEGER NOT NULL,
        objects      TEXT NOT NULL,
        approved_at  TEXT
      );
    `,
  },
  {
    version: 7,
    sql: `
      -- A digest of what was pushed (src/digest.ts): for a user its attributes, for a
      -- group its member set. Planning tells an unchanged object by it, and reads the
      -- attributes or members only of objects that changed.
      ALTER TABLE objects ADD COLUMN digest INTEGER;
      UPDATE objects SET digest = scimsync_attrs_digest(attrs) WHERE kind = 'user';
      UPDATE objects SET digest = COALESCE((
        SELECT scimsync_members_digest(m.user_id) FROM group_members m
        WHERE m.integration = objects.integration AND m.group_id = objects.source_id
      ), 0) WHERE kind = 'group';
    `,
  },
  {
    version: 8,
    sql: `
      -- Values kept once per state file. fingerprint_key: 32 random bytes, the HMAC key of the
      -- integrations' config and credential fingerprints (src/engine/integration-hashes.ts), so that
      -- a fingerprint cannot be checked against a guessed token without this state's key. The
      -- unkeyed fingerprints already stored stay: a migration cannot recompute them without the
      -- config, and the next cycle of each integration rewrites them keyed.
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO meta (key, value) VALUES ('fingerprint_key', scimsync_random_key());
    `,
  },
  {
    version: 9,
    sql: `
      -- The event log at directory scale. Every identifier a user searches by is written with the
      -- event and indexed: a value repeated across events (integration, cycle, a user's source id,
      -- target id and userName or a group's displayName at the time) is stored once and referenced;
      -- time is milliseconds since the epoch, type and result small codes, detail JSONB. Listings run
      -- in (time, id) order, which every index below yields after its equality column.
      CREATE TABLE event_integrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
      CREATE TABLE event_cycles (id INTEGER PRIMARY KEY, cycle_id TEXT NOT NULL UNIQUE);
      -- Codes are fixed: a new event type gets the next one in a later migration.
      CREATE TABLE event_types (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
      INSERT INTO event_types (id, name) VALUES
        (1, 'idm_integration_activate'), (2, 'idm_integration_update'), (3, 'idm_integration_reauth'),
        (4, 'idm_integration_delete'), (5, 'user_create_provision'), (6, 'user_update_provision'),
        (7, 'user_deprovision'), (8, 'user_delete_provision'), (9, 'user_lookup_provision'),
        (10, 'group_create_provision'), (11, 'group_update_provision'), (12, 'group_delete_provision');
      -- Who an event is about; '' where the event has no such value.
      CREATE TABLE event_subjects (
        id          INTEGER PRIMARY KEY,
        integration INTEGER NOT NULL,
        source_id   TEXT NOT NULL,
        target_id   TEXT NOT NULL,
        name        TEXT NOT NULL,
        UNIQUE (source_id, integration, target_id, name)
      );
      CREATE TABLE event_log (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        time        INTEGER NOT NULL,
        integration INTEGER NOT NULL,
        cycle       INTEGER,
        type        INTEGER NOT NULL,
        result      INTEGER NOT NULL CHECK (result IN (0, 1, 2)),
        subject     INTEGER,
        summary     TEXT NOT NULL,
        detail      BLOB NOT NULL
      );

      -- Existing events, set-based. Their subjects: first one for each object (its ids, and the userName or
      -- displayName last pushed), which most events are about; then one for each other (source id, target id)
      -- the events carry, once the events are in.
      INSERT INTO event_integrations (name) SELECT DISTINCT integration FROM events ORDER BY integration;
      INSERT INTO event_cycles (cycle_id) SELECT DISTINCT cycle_id FROM events WHERE cycle_id IS NOT NULL;
      INSERT INTO event_types (id, name)
        SELECT 1000 + row_number() OVER (ORDER BY type), type FROM (SELECT DISTINCT type FROM events)
        WHERE type NOT IN (SELECT name FROM event_types);
      INSERT OR IGNORE INTO event_subjects (integration, source_id, target_id, name)
        SELECT i.id, o.source_id, coalesce(o.target_id, ''),
          coalesce(CAST(json_extract(o.attrs, iif(o.kind = 'group', '$.displayName', '$.userName')) AS TEXT), '')
        FROM objects o JOIN event_integrations i ON i.name = o.integration
        ORDER BY o.source_id, i.id;
      INSERT INTO event_log (id, time, integration, cycle, type, result, subject, summary, detail)
        SELECT e.id, coalesce(CAST(round(unixepoch(e.time, 'subsec') * 1000) AS INTEGER), 0), i.id, c.id, t.id,
          CASE e.result WHEN 'success' THEN 0 WHEN 'failure' THEN 1 ELSE 2 END,
          iif(e.source_id IS NULL AND e.target_id IS NULL, NULL, (
            SELECT s.id FROM event_subjects s
            WHERE s.source_id = coalesce(e.source_id, '') AND s.integration = i.id AND s.target_id = coalesce(e.target_id, '') LIMIT 1
          )),
          e.summary, iif(json_valid(e.detail), jsonb(e.detail), jsonb_object('text', e.detail))
        FROM events e
        LEFT JOIN event_integrations i ON i.name = e.integration
        LEFT JOIN event_cycles c ON c.cycle_id = e.cycle_id
        LEFT JOIN event_types t ON t.name = e.type
        ORDER BY e.id;
      -- One subject has few events: they are sorted after the lookup, and the index stays small.
      CREATE INDEX event_log_by_subject ON event_log (subject);
      INSERT OR IGNORE INTO event_subjects (integration, source_id, target_id, name)
        SELECT DISTINCT l.integration, coalesce(e.source_id, ''), coalesce(e.target_id, ''),
          coalesce(CAST(json_extract(o.attrs, iif(o.kind = 'group', '$.displayName', '$.userName')) AS TEXT), '')
        FROM event_log l JOIN events e ON e.id = l.id
        LEFT JOIN objects o ON o.integration = e.integration AND o.kind = iif(substr(e.type, 1, 6) = 'group_', 'group', 'user') AND o.source_id = e.source_id
        WHERE l.subject IS NULL AND (e.source_id IS NOT NULL OR e.target_id IS NOT NULL);
      UPDATE event_log SET subject = (
          SELECT s.id FROM events e JOIN event_subjects s ON s.source_id = coalesce(e.source_id, '') AND s.integration = event_log.integration
            AND s.target_id = coalesce(e.target_id, '')
          WHERE e.id = event_log.id LIMIT 1
        )
        WHERE subject IS NULL;
      -- Ids are never reused, even past events deleted before this migration: forward positions rely on it.
      INSERT INTO sqlite_sequence (name, seq) SELECT 'event_log', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'event_log');
      UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)) WHERE name = 'event_log';
      DROP TABLE events;

      CREATE INDEX event_log_by_time ON event_log (time);
      CREATE INDEX event_log_by_integration ON event_log (integration, time);
      CREATE INDEX event_log_by_type ON event_log (type, time);
      CREATE INDEX event_log_by_result ON event_log (result, time);
      CREATE INDEX event_log_by_cycle ON event_log (cycle, time);
      CREATE INDEX event_subjects_by_target ON event_subjects (target_id);
      CREATE INDEX event_subjects_by_name ON event_subjects (name COLLATE NOCASE);

      -- The events as they were, for SQL written against the earlier table (and people at a sqlite3 prompt).
      CREATE VIEW events AS
        SELECT l.id AS id, strftime('%Y-%m-%dT%H:%M:%fZ', l.time / 1000.0, 'unixepoch') AS time, i.name AS integration,
          c.cycle_id AS cycle_id, t.name AS type, CASE l.result WHEN 0 THEN 'success' WHEN 1 THEN 'failure' ELSE 'skipped' END AS result,
          nullif(s.source_id, '') AS source_id, nullif(s.target_id, '') AS target_id, l.summary AS summary, json(l.detail) AS detail,
          nullif(s.name, '') AS subject
        FROM event_log l
        LEFT JOIN event_integrations i ON i.id = l.integration
        LEFT JOIN event_cycles c ON c.id = l.cycle
        LEFT JOIN event_types t ON t.id = l.type
        LEFT JOIN event_subjects s ON s.id = l.subject;
      CREATE TRIGGER events_insert INSTEAD OF INSERT ON events
      BEGIN
        INSERT OR IGNORE INTO event_integrations (name) VALUES (NEW.integration);
        INSERT OR IGNORE INTO event_cycles (cycle_id) SELECT NEW.cycle_id WHERE NEW.cycle_id IS NOT NULL;
        INSERT OR IGNORE INTO event_subjects (integration, source_id, target_id, name)
          SELECT i.id, coalesce(NEW.source_id, ''), coalesce(NEW.target_id, ''), coalesce(NEW.subject, '') FROM event_integrations i
          WHERE i.name = NEW.integration AND coalesce(NEW.source_id, NEW.target_id, NEW.subject) IS NOT NULL;
        INSERT INTO event_log (id, time, integration, cycle, type, result, subject, summary, detail)
          SELECT NEW.id, CAST(round(unixepoch(NEW.time, 'subsec') * 1000) AS INTEGER), i.id,
            (SELECT id FROM event_cycles WHERE cycle_id = NEW.cycle_id), (SELECT id FROM event_types WHERE name = NEW.type),
            CASE NEW.result WHEN 'success' THEN 0 WHEN 'failure' THEN 1 WHEN 'skipped' THEN 2 END,
            (SELECT id FROM event_subjects WHERE source_id = coalesce(NEW.source_id, '') AND integration = i.id
              AND target_id = coalesce(NEW.target_id, '') AND name = coalesce(NEW.subject, '')),
            NEW.summary, jsonb(coalesce(NEW.detail, '{}'))
          FROM event_integrations i WHERE i.name = NEW.integration;
      END;
    `,
  },
  {
    version: 10,
    sql: `
      -- Where each forward sink is: the id of the last event it acknowledged.
      CREATE TABLE forward_positions (sink TEXT PRIMARY KEY, position INTEGER NOT NULL, updated_at TEXT NOT NULL) WITHOUT ROWID;
      -- What each notification destination was last told, so that a state change is told once.
      CREATE TABLE notify_memory (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL) WITHOUT ROWID;
    `,
  },
  {
    version: 11,
    sql: `
      -- What scimsync learned about each target (its schema, the rate it answers without 429s).
      CREATE TABLE target_facts (
        integration TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        learned_at TEXT NOT NULL,
        PRIMARY KEY (integration, name)
      ) WITHOUT ROWID;
    `,
  },
];

/** How far to migrate. */
export interface MigrateOptions {
  /** Stop after this version (a state as an earlier scimsync left it: tests and benchmarks of a migration). */
  upTo?: number;
}

/**
 * Brings the schema at `db` up to date. An up-to-date state (the common case, and
 * always so for the writer thread) is only read: no write lock is taken.
 */
export function migrate(db: Database.Database, options: MigrateOptions = {}): void {
  const wanted = migrations.filter((m) => options.upTo === undefined || m.version <= options.upTo);
  const table = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).get();
  if (table) {
    const applied = new Set(db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version));
    if (wanted.every((m) => applied.has(m.version))) return;
  }
  registerMigrationFunctions(db);
  // One process at a time (BEGIN IMMEDIATE takes the write lock; others wait on busy_timeout),
  // re-reading what is applied inside the lock: two processes opening a new database never
  // apply the same migration twice.
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`);
    const applied = new Set(db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version));
    for (const m of wanted) {
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, new Date().toISOString());
    }
  }).immediate();
}

/** The SQL functions the migrations call. */
function registerMigrationFunctions(db: Database.Database): void {
  // Migration 7 adds the digests to existing state.
  db.function('scimsync_attrs_digest', { deterministic: true }, (text: unknown) =>
    typeof text === 'string' ? attrsDigest(JSON.parse(text) as ScimAttrs) : null,
  );
  db.aggregate('scimsync_members_digest', {
    start: NO_MEMBERS,
    step: (digest: number, id: unknown) => (typeof id === 'string' ? withMember(digest, id) : digest),
  });
  // Migration 8 gives the state its fingerprint key: from the system's CSPRNG.
  db.function('scimsync_random_key', { deterministic: false }, () => randomBytes(FINGERPRINT_KEY_BYTES));
}
