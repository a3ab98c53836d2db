/**
 * The arithmetic of an adaptive request rate: how fast a target may be called
 * when its limit is not configured, found from its 429 answers. Pure: every
 * method takes the time (ms) from its caller.
 *
 * - While no limit is known the rate grows by `probeFactor` per window (slow start).
 * - A 429 sets the ceiling: under the rate refused, and under what the
 *   requests sent since the last pause allow, taking the target's bucket to
 *   have been full then and to hold `burstSeconds` of its rate (`sentBound`).
 *   The rate is cut to `margin` under it, and at least by `probeDecrease` (the
 *   first 429) or `decrease` (later ones). One cut per episode: 429s answering
 *   requests sent before the last cut belong to it.
 * - Below its aim the rate closes `approach` of the gap per window: half-way
 *   between the floor (a rate held `confirmMs` without a 429) and the ceiling
 *   while they are far apart, then `margin` under the ceiling. Held at the aim
 *   while the lowest rate refused is far above the ceiling (the burst was
 *   smaller than taken), the ceiling moves half-way up to it.
 * - At the aim the rate creeps up additively by `creep` of the ceiling per
 *   second, the step doubling every `boostAfterMs` without a 429, so that a
 *   limit that was raised is found again.
 * - It grows only in a window where requests waited for it: a cycle sending
 *   a few requests learns nothing about the limit.
 * - A 429 answering the first request sent after a pause the target asked for
 *   (long enough to refill a request at the rate) says the target refuses
 *   everything for now (a storm, a quota), not that the rate is too high: it
 *   pauses again and cuts nothing. A storm leaves the rate where it was.
 * - A ceiling kept from a cycle follows a climb (the rate reached `KEEP_AFTER_CONFIRMS`
 *   × `confirmMs` ago, with no 429 since), and is forgotten once no 429 has set it
 *   for `memoryMs`: the limit is then probed again. A ceiling learned too low climbs back.
 */

/** A raised ceiling is kept for the next cycle once its rate was held this many `confirmMs`. */
const KEEP_AFTER_CONFIRMS = 2.5;

/** The sends kept for `sentBound`: enough for several seconds at hundreds of requests a second. */
const SEND_LOG = 4096;

export interface AimdOptions {
  /** Requests/s when nothing is known of the target. @default 10 */
  startRate: number;
  /** Never below this. @default 0.2 */
  minRate: number;
  /** Never above this (a configured `requestsPerSecond` with `adaptive: true`). @default 100000 */
  maxRate: number;
  /** A window of answers after which the rate may grow. @default 250 */
  windowMs: number;
  /** Answers a window needs at the least, for low rates. @default 3 */
  minWindowAnswers: number;
  /** Growth per window while no limit is known. @default 2 */
  probeFactor: number;
  /** A rate held this long without a 429 is taken as within the limit. @default 2000 */
  confirmMs: number;
  /**
   * The burst a target is taken to allow, in seconds of its rate: from the
   * requests sent since the last pause, a 429 then bounds the limit. @default 0.2
   */
  burstSeconds: number;
  /** The cut on the first 429. @default 0.5 */
  probeDecrease: number;
  /** The cut on a later 429. @default 0.8 */
  decrease: number;
  /** The part of the gap to the aim closed per window. @default 0.25 */
  approach: number;
  /** How far under the ceiling the rate aims. @default 0.05 */
  margin: number;
  /** Additive growth past the aim, a share of the ceiling per second. @default 0.002 */
  creep: number;
  /** The creep doubles after this long past the aim without a 429. @default 10000 */
  boostAfterMs: number;
  /** A ceiling learned from a 429 longer ago than this is forgotten, and the limit probed again. @default 86400000 (1 day) */
  memoryMs: number;
  /**
   * The lowest rate refused is taken to double every this long after the 429 that set it:
   * a limit learned too low (a storm, a busy hour) is tried higher again. @default 1800000 (30 min)
   */
  relaxEveryMs: number;
}

export const AIMD_DEFAULTS: AimdOptions = {
  startRate: 10,
  minRate: 0.2,
  maxRate: 100_000,
  windowMs: 250,
  minWindowAnswers: 3,
  probeFactor: 2,
  confirmMs: 2000,
  burstSeconds: 0.2,
  probeDecrease: 0.5,
  decrease: 0.8,
  approach: 0.25,
  margin: 0.05,
  creep: 0.002,
  boostAfterMs: 10_000,
  memoryMs: 86_400_000,
  relaxEveryMs: 1_800_000,
};

/** What is kept between cycles: the rate to start at, and what the 429s seen said of the limit. */
export interface LearnedRate {
  requestsPerSecond: number;
  /** The most the limit is taken to be. */
  ceiling?: number | undefined;
  /** The lowest rate a 429 answered. */
  refused?: number | undefined;
  /** When a 429 last set the ceiling, on the caller's clock (the store keeps ms epoch). */
  limitedAt?: number | undefined;
}

export class AimdRate {
  private readonly o: AimdOptions;
  private current: number;
  /** The lowest rate a 429 answered (an upper bound of the limit), once one did. */
  private ceiling: number | undefined;
  /** The lowest rate a 429 answered, whatever `burstSeconds` made of it. */
  private refused: number | undefined;
  /** The ceiling to keep for the next cycle: one a 429 set, or one whose rate was held 2.5 × `confirmMs` (not one only tried). */
  private kept: number | undefined;
  /** The highest rate held for `confirmMs` without a 429 (a lower bound of the limit). */
  private floor: number;
  private windowStart: number;
  private windowSent = 0;
  private windowAnswers = 0;
  private lastCutAt = Number.NEGATIVE_INFINITY;
  /** Since when the rate has been what it is now (within 3 %), without a 429 (for `floor` and `kept`). */
  private heldSince: number;
  private heldRate: number;
  /** Since when the rate has been at its aim, without a 429. */
  private pastAimSince: number | undefined;
  /** When the last pause ended (or the start): the target's bucket is taken to be full then. */
  private resumedAt: number;
  /** When each request since `resumedAt` went, the last `SEND_LOG` of them. */
  private readonly sends: number[] = [];
  /** How long the last pause was (ms). */
  private pausedFor = 0;
  /** When a 429 last set the ceiling. */
  private limitedAt: number;
  /** The rate at the end of each window it grew in since the last cut: non-decreasing, for `kept` to follow a climb. */
  private climb: { at: number; rate: number }[] = [];

  constructor(options: Partial<AimdOptions>, learned: LearnedRate | undefined, now: number) {
    this.o = { ...AIMD_DEFAULTS, ...options };
    this.limitedAt = learned?.limitedAt ?? now;
    // Evidence of a limit fades: one no 429 has confirmed for memoryMs is probed again, from the rate kept.
    const stale = now - this.limitedAt > this.o.memoryMs;
    const ceiling = stale ? undefined : learned?.ceiling;
    this.ceiling = ceiling !== undefined && ceiling > 0 ? Math.min(ceiling, this.o.maxRate) : undefined;
    this.refused = this.ceiling !== undefined ? Math.max(this.ceiling, learned?.refused ?? this.ceiling) : undefined;
    this.kept = this.ceiling;
    this.current = this.clamp(learned?.requestsPerSecond ?? this.o.startRate);
    this.floor = this.ceiling !== undefined ? Math.min(this.current, this.ceiling) : this.o.minRate;
    this.windowStart = now;
    this.heldSince = now;
    this.heldRate = this.current;
    this.resumedAt = now;
  }

  /** Requests per second allowed now. */
  get rate(): number {
    return this.current;
  }

  /** Whether a 429 has set a ceiling yet (otherwise the rate is still probing). */
  get limitFound(): boolean {
    return this.ceiling !== undefined;
  }

  /** What to keep for the next cycle. */
  get learned(): LearnedRate {
    if (this.ceiling === undefined) return { requestsPerSecond: this.current };
    const ceiling = this.kept ?? this.ceiling;
    return {
      requestsPerSecond: Math.min(this.current, this.aim(), ceiling * (1 - this.o.margin)),
      ceiling,
      ...(this.refused !== undefined ? { refused: this.refused } : {}),
      limitedAt: this.limitedAt,
    };
  }

  /** A request went out. */
  sent(now: number): void {
    if (now >= this.windowStart) this.windowSent++;
    if (now >= this.resumedAt) {
      this.sends.push(now);
      if (this.sends.length > 2 * SEND_LOG) this.sends.splice(0, this.sends.length - SEND_LOG);
    }
  }

  /** A request sent at `sentAt` was answered, not with a 429. */
  answered(sentAt: number, now: number): void {
    if (sentAt < this.windowStart) return;
    this.windowAnswers++;
    const elapsed = now - this.windowStart;
    if (elapsed < this.o.windowMs || this.windowAnswers < this.o.minWindowAnswers) return;
    // Rate-bound: the requests went about as fast as allowed, so the allowance was what held them.
    const rateBound = this.windowSent >= 0.9 * this.current * (elapsed / 1000);
    if (rateBound) {
      if (now - this.heldSince >= this.o.confirmMs) {
        this.floor = Math.max(this.floor, this.heldRate);
        // Kept only once held long: a target's burst lets a rate a little past its limit through for a few seconds.
        if (this.ceiling !== undefined && now - this.heldSince >= KEEP_AFTER_CONFIRMS * this.o.confirmMs) {
          this.kept = Math.max(this.kept ?? 0, Math.min(this.ceiling, this.heldRate));
        }
        // Held at the aim while a 429 came only much higher: the burst was smaller than taken, the ceiling too low.
        const refused = this.refusedBound(now);
        if (this.ceiling !== undefined && refused !== undefined && this.current >= this.aim() && refused > this.ceiling * 1.1) {
          this.ceiling = (this.ceiling + refused) / 2;
        }
      }
      this.grow(elapsed, now);
      this.followClimb(now);
    }
    this.windowStart = now;
    this.windowSent = 0;
    this.windowAnswers = 0;
  }

  /**
   * A request sent at `sentAt`, at `rateAtSend`, was answered 429; nothing is
   * sent until `resumeAt`. Answers true when this 429 cut the rate (a new episode).
   */
  throttled(sentAt: number, rateAtSend: number, now: number, resumeAt: number = now): boolean {
    const resume = Math.max(now, resumeAt);
    this.windowStart = resume;
    this.windowSent = 0;
    this.windowAnswers = 0;
    this.pastAimSince = undefined;
    if (sentAt < this.lastCutAt) return false;
    if (this.refusedAfterPause(sentAt, rateAtSend)) {
      // Not the rate: the target refuses everything for now. Pause again, and let later 429s of it join this one.
      this.lastCutAt = now;
      this.pause(now, resume);
      return false;
    }
    const probing = this.ceiling === undefined;
    const hit = Math.max(this.o.minRate, Math.min(rateAtSend, this.o.maxRate));
    const bound = Math.min(hit, this.sentBound(now) ?? hit);
    this.refused = Math.min(hit, this.refusedBound(now) ?? hit);
    this.ceiling = Math.max(this.o.minRate, Math.min(bound, this.ceiling ?? bound));
    this.kept = this.ceiling;
    const cut = hit * (probing ? this.o.probeDecrease : this.o.decrease);
    this.current = this.clamp(Math.min(cut, this.ceiling * (1 - this.o.margin)));
    // The rate cut to is the best guess of one within the limit: the bisection starts from it.
    this.floor = probing ? this.current : Math.min(this.floor, this.current);
    this.lastCutAt = now;
    this.limitedAt = now;
    this.climb = [];
    this.pause(now, resume);
    return true;
  }

  private pause(now: number, resume: number): void {
    this.sends.length = 0;
    this.pausedFor = resume - now;
    this.resumedAt = resume;
    this.setHeld(resume);
  }

  /** The lowest rate refused, relaxed by the time since: a 429 long ago says less of the limit now. */
  private refusedBound(now: number): number | undefined {
    if (this.refused === undefined) return undefined;
    return Math.min(this.o.maxRate, this.refused * 2 ** (Math.max(0, now - this.limitedAt) / this.o.relaxEveryMs));
  }

  /** Whether a request refused was the first sent after a pause that let the target's bucket refill one request at the rate. */
  private refusedAfterPause(sentAt: number, rateAtSend: number): boolean {
    return this.sends[0] === sentAt && (this.pausedFor * rateAtSend) / 1000 >= 1;
  }

  /** Keeps the rate reached `KEEP_AFTER_CONFIRMS` × `confirmMs` ago: every rate since, at least as high, had no 429. */
  private followClimb(now: number): void {
    if (this.ceiling === undefined) return;
    this.climb.push({ at: now, rate: this.current });
    const keepAfter = KEEP_AFTER_CONFIRMS * this.o.confirmMs;
    let proven: number | undefined;
    while (this.climb.length > 1 && now - this.climb[1]!.at >= keepAfter) this.climb.shift();
    if (now - this.climb[0]!.at >= keepAfter) proven = this.climb[0]!.rate;
    if (proven !== undefined) this.kept = Math.max(this.kept ?? 0, Math.min(this.ceiling, proven));
  }

  private grow(elapsedMs: number, now: number): void {
    const before = this.current;
    if (this.ceiling === undefined) {
      this.current = this.clamp(this.current * this.o.probeFactor);
    } else {
      const aim = this.aim();
      if (this.current < aim) {
        this.pastAimSince = undefined;
        this.current = this.clamp(Math.min(aim, this.current + Math.max((aim - this.current) * this.o.approach, this.ceiling * this.o.creep * (elapsedMs / 1000))));
      } else {
        // Additive increase past the aim, faster the longer no 429 came: a limit that was raised is found again.
        this.pastAimSince ??= now;
        const boost = 2 ** Math.floor((now - this.pastAimSince) / this.o.boostAfterMs);
        this.current = this.clamp(this.current + this.ceiling * this.o.creep * (elapsedMs / 1000) * boost);
        if (this.current > this.ceiling) this.ceiling = this.current;
      }
    }
    if (this.current !== before && Math.abs(this.current - this.heldRate) > this.heldRate * 0.03) this.setHeld(now);
  }

  /**
   * The most the limit can be, from what was sent since the bucket was last
   * full: a 429 at `now` means that, for some send at `s`, the requests sent
   * from `s` on exceeded the burst plus the limit times `now − s`, so the limit
   * is under `sent / (now − s + burstSeconds)` for that `s`. Undefined with too
   * few requests to tell.
   */
  private sentBound(now: number): number | undefined {
    if (this.sends.length < 4) return undefined;
    let bound = 0;
    for (let k = 1; k <= this.sends.length; k++) {
      const since = (now - this.sends[this.sends.length - k]!) / 1000;
      bound = Math.max(bound, k / (since + this.o.burstSeconds));
    }
    return bound;
  }

  /**
   * Where the rate heads: half-way between the floor and the ceiling while they
   * are far apart (a bisection, each 429 lowering the ceiling and each rate held
   * raising the floor), then `margin` under the ceiling.
   */
  private aim(): number {
    const c = this.ceiling ?? this.current;
    const top = c * (1 - this.o.margin);
    return this.floor < top * (1 - this.o.margin) ? Math.max(this.floor, (this.floor + top) / 2) : top;
  }

  private setHeld(now: number): void {
    this.heldSince = now;
    this.heldRate = this.current;
  }

  private clamp(rate: number): number {
    return Math.min(this.o.maxRate, Math.max(this.o.minRate, rate));
  }
}
