/**
 * The integrations the state knows: their config and credential fingerprints
 * (and the state's key for them), quarantine, and the last good snapshot's size.
 */
import type Database from 'better-sqlite3';
import { StateFileError } from '../../src/errors.js';
import type { IntegrationRecord, Quarantine, QuarantineLift } from '../interface.js';
import { FINGERPRINT_KEY_BYTES } from './migrations.js';

interface QuarantineRow {
  quarantine_until: string | null;
  quarantine_level: number;
  quarantine_reason: string | null;
}

export class SqliteIntegrations {
  private readonly stmts;
  /** The fingerprint key, read once. */
  private key: Buffer | undefined;

  constructor(
    db: Database.Database,
    private readonly path: string,
  ) {
    this.stmts = {
      fingerprintKey: db.prepare(`SELECT value FROM meta WHERE key = 'fingerprint_key'`).pluck(),
      get: db.prepare<[string], { name: string; config_hash: string; auth_hash: string }>(`SELECT name, config_hash, auth_hash FROM integrations WHERE name = ?`),
      put: db.prepare(
        `INSERT INTO integrations (name, config_hash, auth_hash, created_at, updated_at) VALUES (@name, @configHash, @authHash, @now, @now)
         ON CONFLICT (name) DO UPDATE SET config_hash = excluded.config_hash, auth_hash = excluded.auth_hash, updated_at = excluded.updated_at`,
      ),
      known: db.prepare<[], string>(`SELECT name FROM integrations ORDER BY name`).pluck(),
      getQuarantine: db.prepare<[string], QuarantineRow>(`SELECT quarantine_until, quarantine_level, quarantine_reason FROM integrations WHERE name = ?`),
      setQuarantine: db.prepare(`UPDATE integrations SET quarantine_until = ?, quarantine_level = ?, quarantine_reason = ? WHERE name = ?`),
      getSourceUsers: db.prepare<[string], number | null>(`SELECT last_source_users FROM integrations WHERE name = ?`).pluck(),
      setSourceUsers: db.prepare(`UPDATE integrations SET last_source_users = ? WHERE name = ?`),
    };
  }

  /** Made once, when the state was created or upgraded (migration 8), and kept in it. */
  fingerprintKey(): Buffer {
    if (this.key) return this.key;
    const key: unknown = this.stmts.fingerprintKey.get();
    if (!Buffer.isBuffer(key) || key.length !== FINGERPRINT_KEY_BYTES) {
      throw new StateFileError(this.path, 'its fingerprint key is missing or damaged: restore it from a backup');
    }
    this.key = key;
    return key;
  }

  getIntegration(name: string): IntegrationRecord | undefined {
    const r = this.stmts.get.get(name);
    return r ? { name: r.name, configHash: r.config_hash, authHash: r.auth_hash } : undefined;
  }

  putIntegration(rec: IntegrationRecord, now: Date = new Date()): void {
    this.stmts.put.run({ name: rec.name, configHash: rec.configHash, authHash: rec.authHash, now: now.toISOString() });
  }

  knownIntegrations(): string[] {
    return this.stmts.known.all();
  }

  getQuarantine(integration: string): Quarantine | undefined {
    const r = this.stmts.getQuarantine.get(integration);
    if (!r || r.quarantine_until === null) return undefined;
    return { until: r.quarantine_until, level: r.quarantine_level, reason: r.quarantine_reason ?? '' };
  }

  setQuarantine(integration: string, q: Quarantine | undefined, lift: QuarantineLift = {}): void {
    if (q) {
      this.stmts.setQuarantine.run(q.until, q.level, q.reason, integration);
      return;
    }
    const keepLevel = lift.keepLevel ?? false;
    this.stmts.setQuarantine.run(null, keepLevel ? this.quarantineLevel(integration) : 0, null, integration);
  }

  quarantineLevel(integration: string): number {
    return this.stmts.getQuarantine.get(integration)?.quarantine_level ?? 0;
  }

  lastSourceUsers(integration: string): number | undefined {
    return this.stmts.getSourceUsers.get(integration) ?? undefined;
  }

  setLastSourceUsers(integration: string, n: number): void {
    this.stmts.setSourceUsers.run(n, integration);
  }
}
