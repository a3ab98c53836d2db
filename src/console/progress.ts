import type { CycleProgress, ProgressFeed } from '../engine/index.js';

interface LiveCycle {
  startedAt: number;
  done: number;
  total: number | null;
  failed: number;
  rateLimitWaits: number;
  /** The first progress report, from which the pace is measured (planning and matching come before it). */
  firstAt: number | undefined;
  firstDone: number;
}

/**
 * The progress of the cycles running in this process, fed by runCycle's
 * onProgress and onRateLimit (the daemon), read by the console: operations
 * settled, planned, failed, 429 waits, and the time left at the pace so far.
 */
export class CycleProgressBoard implements ProgressFeed {
  private readonly live = new Map<string, LiveCycle>();
  constructor(private readonly now: () => number = Date.now) {}

  start(integration: string): void {
    this.live.set(integration, { startedAt: this.now(), done: 0, total: null, failed: 0, rateLimitWaits: 0, firstAt: undefined, firstDone: 0 });
  }

  /** runCycle's onProgress: `(done, total, failed) => board.update(name, { done, total, failed })`. */
  update(integration: string, progress: { done: number; total: number; failed: number }): void {
    const c = this.live.get(integration);
    if (!c) return;
    if (c.firstAt === undefined) {
      c.firstAt = this.now();
      c.firstDone = progress.done;
    }
    c.done = progress.done;
    c.total = progress.total;
    c.failed = progress.failed;
  }

  /** runCycle's onRateLimit. */
  rateLimited(integration: string): void {
    const c = this.live.get(integration);
    if (c) c.rateLimitWaits++;
  }

  finish(integration: string): void {
    this.live.delete(integration);
  }

  get(integration: string): CycleProgress | undefined {
    const c = this.live.get(integration);
    if (!c) return undefined;
    const now = this.now();
    let etaMs: number | null = null;
    if (c.total !== null && c.firstAt !== undefined && c.done > c.firstDone && now > c.firstAt) {
      const perMs = (c.done - c.firstDone) / (now - c.firstAt);
      etaMs = Math.round((c.total - c.done) / perMs);
    }
    return {
      cycleId: null,
      startedAt: new Date(c.startedAt).toISOString(),
      done: c.done,
      total: c.total,
      failed: c.failed,
      rateLimitWaits: c.rateLimitWaits,
      etaMs,
      source: 'live',
    };
  }
}
