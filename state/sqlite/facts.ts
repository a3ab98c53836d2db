/** What scimsync learned about each target (facts.ts): one row per integration and name. */
import type Database from 'better-sqlite3';
import type { TargetFact, TargetFactStore } from '../facts.js';

export class SqliteTargetFacts implements TargetFactStore {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      get: db.prepare<[string, string], { value: string; learned_at: string }>(`SELECT value, learned_at FROM target_facts WHERE integration = ? AND name = ?`),
      put: db.prepare(
        `INSERT INTO target_facts (integration, name, value, learned_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (integration, name) DO UPDATE SET value = excluded.value, learned_at = excluded.learned_at`,
      ),
      forgetOne: db.prepare(`DELETE FROM target_facts WHERE integration = ? AND name = ?`),
      forgetAll: db.prepare(`DELETE FROM target_facts WHERE integration = ?`),
    };
  }

  get(integration: string, name: string): TargetFact | undefined {
    const row = this.stmts.get.get(integration, name);
    return row ? { value: row.value, learnedAt: row.learned_at } : undefined;
  }

  put(integration: string, name: string, value: string, now: Date = new Date()): void {
    this.stmts.put.run(integration, name, value, now.toISOString());
  }

  forget(integration: string, name?: string): void {
    if (name === undefined) this.stmts.forgetAll.run(integration);
    else this.stmts.forgetOne.run(integration, name);
  }
}
