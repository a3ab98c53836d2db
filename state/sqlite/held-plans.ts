/**
 * Held plans: a cycle held for deprovisioning too much (safety.maxDeletes /
 * maxDeletePercent), with what it would deprovision, and the approval policy.
 */
import type Database from 'better-sqlite3';
import type { HeldObject, HeldPlan, NewHeldPlan } from '../interface.js';

interface HeldPlanRow {
  held_at: string;
  reason: string;
  managed: number;
  objects: string;
  approved_at: string | null;
}

/**
 * The approval a plan held again keeps: the prior one when it holds the same
 * deprovisions (in any order), none when they differ. An admin approves what
 * they saw, never more.
 */
export function keptApproval(prior: HeldPlan | undefined, next: NewHeldPlan): string | null {
  const key = (objs: readonly HeldObject[]) => objs.map((o) => `${o.kind}:${o.sourceId}`).sort().join('\n');
  return prior && key(prior.objects) === key(next.objects) ? prior.approvedAt : null;
}

export class SqliteHeldPlans {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      get: db.prepare<[string], HeldPlanRow>('SELECT held_at, reason, managed, objects, approved_at FROM held_plans WHERE integration = ?'),
      put: db.prepare(`INSERT OR REPLACE INTO held_plans (integration, held_at, reason, managed, objects, approved_at) VALUES (?, ?, ?, ?, ?, ?)`),
      approve: db.prepare('UPDATE held_plans SET approved_at = ? WHERE integration = ?'),
      clear: db.prepare('DELETE FROM held_plans WHERE integration = ?'),
    };
  }

  getHeldPlan(integration: string): HeldPlan | undefined {
    const r = this.stmts.get.get(integration);
    if (!r) return undefined;
    return { heldAt: r.held_at, reason: r.reason, managed: r.managed, objects: JSON.parse(r.objects) as HeldObject[], approvedAt: r.approved_at };
  }

  holdPlan(integration: string, plan: NewHeldPlan, now: Date = new Date()): HeldPlan {
    const approvedAt = keptApproval(this.getHeldPlan(integration), plan);
    const held: HeldPlan = { ...plan, heldAt: now.toISOString(), approvedAt };
    this.stmts.put.run(integration, held.heldAt, held.reason, held.managed, JSON.stringify(held.objects), approvedAt);
    return held;
  }

  setApproval(integration: string, approvedAt: string | null): boolean {
    return this.stmts.approve.run(approvedAt, integration).changes === 1;
  }

  clearHeldPlan(integration: string): void {
    this.stmts.clear.run(integration);
  }
}
