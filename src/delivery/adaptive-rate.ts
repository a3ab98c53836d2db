/**
 * A limiter that finds a target's request rate instead of being told it: it
 * paces requests at a rate that grows while the target answers and is cut on
 * each 429 episode (src/core/aimd-rate.ts), pauses for the `Retry-After` the
 * 429 carries, and keeps at most `maxConcurrent` requests in flight. What it
 * learned is kept in a `RateMemory` (state), so the next cycle starts near it.
 */
import { performance } from 'node:perf_hooks';
import { AimdRate, type AimdOptions, type LearnedRate } from '../core/aimd-rate.js';
import { ScimHttpError } from '../errors.js';
import type { Limiter } from '../scim/client.js';

export type { LearnedRate } from '../core/aimd-rate.js';

/** Where the learned rate of one integration's target is kept between cycles. */
export interface RateMemory {
  load(): LearnedRate | undefined;
  save(rate: LearnedRate): void;
}

export interface AdaptiveRateOptions {
  /** Requests in flight at once. */
  maxConcurrent: number;
  /** Never faster than this (a configured `requestsPerSecond` with `adaptive: true`). */
  maxRate?: number | undefined;
  /** The learned rate to start from, saved back at `stop()` and every `saveEveryMs`. */
  memory?: RateMemory | undefined;
  /** @default 30000 */
  saveEveryMs?: number | undefined;
  /**
   * The longest pause a 429 may impose (`target.retry.maxTotalWaitMs`): a longer
   * `Retry-After` is not waited for, its request fails at once, as with a fixed rate.
   */
  maxPauseMs?: number | undefined;
  /** The arithmetic's constants (tests). */
  aimd?: Partial<AimdOptions> | undefined;
}

/** The limiter, with what it learned and counted. */
export interface AdaptiveLimiter extends Limiter {
  /** Requests per second allowed now. */
  readonly rate: number;
  /** What would be saved now. */
  readonly learned: LearnedRate;
  /** 429 answers seen: each made its request wait and be sent again. */
  readonly rateLimitWaits: number;
  /** Requests answered other than by a 429. */
  readonly answered: number;
}

/**
 * How far the limiter may catch up after a late timer, in seconds of its rate: on
 * a busy machine timers fire late, and a pace that never catches up falls short of
 * its rate. Not under one request: a target that allows no burst at all would
 * answer the second of two at once with a 429.
 */
const CATCH_UP_SECONDS = 0.05;
const CATCH_UP_MIN = 1;

/** Node fires a longer timer at once, with a TimeoutOverflowWarning: a longer wait wakes and sleeps again. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

interface Waiting {
  job: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

export function adaptiveLimiter(options: AdaptiveRateOptions): AdaptiveLimiter {
  return new AdaptiveRateLimiter(options);
}

class AdaptiveRateLimiter implements AdaptiveLimiter {
  private readonly aimd: AimdRate;
  private readonly maxConcurrent: number;
  private readonly memory: RateMemory | undefined;
  private readonly saveEveryMs: number;
  private readonly maxPauseMs: number;
  /** Date.now() − performance.now(): the learned rate's times are kept in ms epoch. */
  private readonly epochOffset = Date.now() - performance.now();
  private readonly waiting: Waiting[] = [];
  private head = 0;
  private running = 0;
  private credit = 1;
  private creditAt = performance.now();
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastSave = performance.now();
  private idle: (() => void)[] = [];
  private stopped: Promise<void> | undefined;
  private waits = 0;
  private answers = 0;

  constructor(options: AdaptiveRateOptions) {
    this.maxConcurrent = Math.max(1, options.maxConcurrent);
    this.memory = options.memory;
    this.saveEveryMs = options.saveEveryMs ?? 30_000;
    this.maxPauseMs = options.maxPauseMs ?? Number.POSITIVE_INFINITY;
    const aimd = { ...options.aimd, ...(options.maxRate !== undefined ? { maxRate: options.maxRate } : {}) };
    const kept = this.memory?.load();
    this.aimd = new AimdRate(aimd, kept && shifted(kept, -this.epochOffset), performance.now());
  }

  get rate(): number {
    return this.aimd.rate;
  }

  get learned(): LearnedRate {
    return shifted(this.aimd.learned, this.epochOffset);
  }

  get rateLimitWaits(): number {
    return this.waits;
  }

  get answered(): number {
    return this.answers;
  }

  schedule<T>(job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ job, resolve: resolve as (value: unknown) => void, reject });
      this.pump();
    });
  }

  stop(): Promise<void> {
    return (this.stopped ??= this.whenIdle().then(() => this.save()));
  }

  drop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const dropped = this.waiting.splice(this.head);
    this.waiting.length = 0;
    this.head = 0;
    for (const w of dropped) w.reject(new Error('the request was dropped: scimsync is stopping'));
    this.settleIdle();
  }

  private get queued(): number {
    return this.waiting.length - this.head;
  }

  /** Starts what may start now, and sets a timer for the next start. */
  private pump(): void {
    if (this.timer) return;
    while (this.queued > 0 && this.running < this.maxConcurrent) {
      const now = performance.now();
      if (now < this.pausedUntil) return this.wake(this.pausedUntil - now);
      const rate = this.aimd.rate;
      this.credit = Math.min(Math.max(CATCH_UP_MIN, rate * CATCH_UP_SECONDS), this.credit + ((now - this.creditAt) * rate) / 1000);
      this.creditAt = now;
      if (this.credit < 1) return this.wake(((1 - this.credit) * 1000) / rate);
      this.credit -= 1;
      const next = this.waiting[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      this.start(next, now, rate);
    }
  }

  private wake(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.min(LONGEST_TIMER_MS, Math.max(1, Math.ceil(ms))));
  }

  private start(w: Waiting, sentAt: number, rateAtSend: number): void {
    this.running++;
    this.aimd.sent(sentAt);
    w.job().then(
      (value) => {
        this.answers++;
        this.aimd.answered(sentAt, performance.now());
        this.finish();
        w.resolve(value);
      },
      (error: unknown) => {
        const now = performance.now();
        if (error instanceof ScimHttpError && error.kind === 'rate-limited') {
          this.rateLimited(error.retryAfterMs ?? 0, sentAt, rateAtSend, now);
        } else if (error instanceof ScimHttpError && error.status !== undefined) {
          // Answered, if not with success: the target kept up.
          this.answers++;
          this.aimd.answered(sentAt, now);
        }
        this.finish();
        w.reject(error);
      },
    );
  }

  /** A 429 asking to wait `waitMs`: nothing of this target is sent before then, and the rate is cut. */
  private rateLimited(waitMs: number, sentAt: number, rateAtSend: number, now: number): void {
    // A wait past the bound is not taken (the client fails its request at once), nor read as a sign of the rate.
    if (waitMs > this.maxPauseMs) return;
    this.waits++;
    const resumeAt = now + waitMs;
    if (resumeAt > this.pausedUntil) this.pausedUntil = resumeAt;
    this.aimd.throttled(sentAt, rateAtSend, now, resumeAt);
    // The pause is a new start: no credit saved up before it.
    this.credit = Math.min(this.credit, 1);
    this.creditAt = Math.max(now, resumeAt);
  }

  private finish(): void {
    this.running--;
    if (this.memory && performance.now() - this.lastSave >= this.saveEveryMs) this.save();
    this.pump();
    this.settleIdle();
  }

  private whenIdle(): Promise<void> {
    if (this.running === 0 && this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private settleIdle(): void {
    if (this.running > 0 || this.queued > 0 || this.idle.length === 0) return;
    const idle = this.idle;
    this.idle = [];
    for (const resolve of idle) resolve();
  }

  private save(): void {
    this.lastSave = performance.now();
    if (this.memory && this.answers > 0) this.memory.save(this.learned);
  }
}

/** The learned rate's `limitedAt` moved by `offset` ms: between the store's ms epoch and the limiter's performance.now(). */
function shifted(learned: LearnedRate, offset: number): LearnedRate {
  return learned.limitedAt === undefined ? learned : { ...learned, limitedAt: Math.round(learned.limitedAt + offset) };
}
