/** Forgetting: an integration removed from the config, or its objects before a rebuild. */
import type Database from 'better-sqlite3';
import type { PurgeResult } from '../interface.js';

/**
 * What a rebuild starts without: the integration's objects, in-flight records and held
 * plan. Escrow stays: an operation the target refused is still owed, and is retried.
 */
const OBJECT_TABLES = ['objects', 'group_members', 'inflight', 'held_plans'] as const;

export class SqlitePurge {
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    this.stmts = {
      objects: OBJECT_TABLES.map((table) => db.prepare(`DELETE FROM ${table} WHERE integration = ?`)),
      lease: db.prepare('DELETE FROM leases WHERE integration = ?'),
      integration: db.prepare('DELETE FROM integrations WHERE name = ?'),
      facts: db.prepare('DELETE FROM target_facts WHERE integration = ?'),
      escrow: db.prepare('DELETE FROM escrow WHERE integration = ?'),
    };
  }

  /** Everything but the audit events (and the cycles they point to). */
  purgeIntegration(integration: string): PurgeResult {
    return this.db.transaction(() => {
      const objects = this.deleteObjects(integration);
      this.stmts.escrow.run(integration);
      this.stmts.lease.run(integration);
      this.stmts.integration.run(integration);
      this.stmts.facts.run(integration);
      return { objects };
    })();
  }

  purgeObjects(integration: string): void {
    this.db.transaction(() => this.deleteObjects(integration))();
  }

  /** Returns how many objects (users and groups) were deleted. */
  private deleteObjects(integration: string): number {
    const [objects, ...rest] = this.stmts.objects;
    const n = objects!.run(integration).changes;
    for (const stmt of rest) stmt.run(integration);
    return n;
  }
}
