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
];

/**
 * Brings the schema at `db` up to date. An up-to-date state (the common case, and
 * always so for the writer thread) is only read: no write lock is taken.
 */
export function migrate(db: Database.Database): void {
  const table = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).get();
  if (table) {
    const applied = new Set(db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version));
    if (migrations.every((m) => applied.has(m.version))) return;
  }
  registerMigrationFunctions(db);
  // One process at a time (BEGIN IMMEDIATE takes the write lock; others wait on busy_timeout),
  // re-reading what is applied inside the lock: two processes opening a new database never
  // apply the same migration twice.
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`);
    const applied = new Set(db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version));
    for (const m of migrations) {
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
