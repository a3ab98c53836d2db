/** Leases: one writer of an integration at a time, across processes, with an expiry. */
import type Database from 'better-sqlite3';

export class SqliteLeases {
  private readonly stmts;

  /** `commit` makes the lease durable at once: a group commit left open would hide it from other processes. */
  constructor(
    db: Database.Database,
    private readonly commit: () => void,
  ) {
    this.stmts = {
      // Atomic: the row is taken only where it is free, expired, or already this owner's.
      take: db.prepare(
        `INSERT INTO leases (integration, owner, expires_at) VALUES (@integration, @owner, @expires)
         ON CONFLICT (integration) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE leases.expires_at < @now OR leases.owner = excluded.owner`,
      ),
      release: db.prepare(`DELETE FROM leases WHERE integration = ? AND owner = ?`),
      holder: db.prepare<[string], string>(`SELECT owner FROM leases WHERE integration = ?`).pluck(),
      expiresAt: db.prepare<[string], number>(`SELECT expires_at FROM leases WHERE integration = ?`).pluck(),
    };
  }

  takeLease(integration: string, owner: string, ttlMs: number, now: number = Date.now()): boolean {
    const taken = this.stmts.take.run({ integration, owner, expires: now + ttlMs, now }).changes === 1;
    this.commit();
    return taken;
  }

  releaseLease(integration: string, owner: string): void {
    this.stmts.release.run(integration, owner);
  }

  leaseHolder(integration: string): string | undefined {
    return this.stmts.holder.get(integration);
  }

  leaseExpiresAt(integration: string): number | undefined {
    return this.stmts.expiresAt.get(integration);
  }
}
