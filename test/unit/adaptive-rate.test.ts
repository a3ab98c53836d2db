import { describe, expect, it } from 'vitest';
import { AimdRate } from '../../src/core/aimd-rate.js';
import { rateModeOf } from '../../src/delivery/rate.js';

/** Sends and answers at the allowed rate for `ms`, as a rate-bound delivery does; answers the time reached. */
function run(aimd: AimdRate, from: number, ms: number, fraction = 1): number {
  let t = from;
  while (t < from + ms) {
    const step = 1000 / (aimd.rate * fraction);
    aimd.sent(t);
    aimd.answered(t, t + 1);
    t += step;
  }
  return t;
}

describe('the adaptive rate', () => {
  it('starts at 10 requests/s and grows while requests wait for it and no 429 comes', () => {
    const aimd = new AimdRate({}, undefined, 0);
    expect(aimd.rate).toBe(10);
    run(aimd, 0, 2000);
    expect(aimd.rate).toBeGreaterThan(40);
    expect(aimd.limitFound).toBe(false);
  });

  it('does not grow when the requests do not use the rate (a small cycle learns nothing)', () => {
    const aimd = new AimdRate({}, undefined, 0);
    run(aimd, 0, 5000, 0.3);
    expect(aimd.rate).toBe(10);
  });

  it('cuts the rate once per 429 episode, to under the rate refused', () => {
    const aimd = new AimdRate({}, undefined, 0);
    const t = run(aimd, 0, 1500);
    const refused = aimd.rate;
    expect(aimd.throttled(t - 5, refused, t, t + 1000)).toBe(true);
    const cut = aimd.rate;
    expect(cut).toBeLessThanOrEqual(refused / 2);
    expect(aimd.learned.ceiling).toBeLessThanOrEqual(refused);
    // Requests sent before the cut, answered 429 after it: the same episode.
    expect(aimd.throttled(t - 2, refused, t + 3, t + 1003)).toBe(false);
    expect(aimd.rate).toBe(cut);
  });

  it('bounds the limit by what was sent since the last pause, the bucket taken to hold 0.2 s of it', () => {
    const aimd = new AimdRate({}, { requestsPerSecond: 100, ceiling: 1000 }, 0);
    // 100 requests/s for 2 s, then a 429: at most 200 requests fit in 2 s of the limit plus its burst.
    // The rate allowed was 150 requests/s; the requests went at 100 (as many at once as allowed took that long).
    for (let t = 0; t < 2000; t += 10) aimd.sent(t);
    aimd.throttled(1990, 150, 2000, 3000);
    expect(aimd.learned.ceiling).toBeCloseTo(200 / 2.2, 0);
    expect(aimd.rate).toBeCloseTo((200 / 2.2) * 0.95, 0);
  });

  it('climbs back to just under the ceiling after a cut, and no further while the rate refused is close above', () => {
    const aimd = new AimdRate({}, { requestsPerSecond: 30, ceiling: 50, refused: 52 }, 0);
    run(aimd, 0, 15_000);
    expect(aimd.rate).toBeGreaterThan(45);
    expect(aimd.rate).toBeLessThan(48.5);
  });

  it('when the target refused only far above the ceiling (a smaller burst than taken), moves the ceiling up', () => {
    const aimd = new AimdRate({}, { requestsPerSecond: 47.5, ceiling: 50, refused: 60 }, 0);
    run(aimd, 0, 3000);
    // Held at its aim for 2 s without a 429: the ceiling moves half-way up to the rate refused.
    expect(aimd.rate).toBeGreaterThan(49);
    // Tried, not yet kept: a cycle ending now starts the next one where it was held.
    expect(aimd.learned.ceiling).toBe(50);
    run(aimd, 3000, 10_000);
    expect(aimd.rate).toBeGreaterThan(52);
    // A rate held 5 s without a 429 is kept.
    run(aimd, 13_000, 10_000);
    expect(aimd.learned.ceiling).toBeGreaterThan(51.5);
  });

  it('starts where the last cycle left off, just under the ceiling learned, and stays near it', () => {
    const aimd = new AimdRate({}, { requestsPerSecond: 47.5, ceiling: 50, refused: 52 }, 0);
    expect(aimd.rate).toBe(47.5);
    expect(aimd.limitFound).toBe(true);
    run(aimd, 0, 5000);
    // Additive growth only, a fraction of a percent a second, near a known limit.
    expect(aimd.rate).toBeGreaterThan(47.4);
    expect(aimd.rate).toBeLessThan(48.5);
  });

  it('finds a raised limit again: the creep doubles the longer no 429 comes', () => {
    const aimd = new AimdRate({}, { requestsPerSecond: 47.5, ceiling: 50 }, 0);
    run(aimd, 0, 60_000);
    expect(aimd.rate).toBeGreaterThan(55);
    // Kept: the rate reached 5 s ago, every rate since (higher) answered without a 429.
    expect(aimd.learned.ceiling).toBeGreaterThan(52);
  });

  it('a storm (the first request after each pause refused again) pauses again and leaves the rate and the ceiling as they were', () => {
    const aimd = new AimdRate({}, { requestsPerSecond: 95, ceiling: 100, refused: 105 }, 0);
    let t = run(aimd, 0, 3000);
    // The storm begins: one cut for the requests sent before it.
    expect(aimd.throttled(t - 2, aimd.rate, t, t + 1000)).toBe(true);
    const cut = aimd.rate;
    const ceiling = aimd.learned.ceiling!;
    t += 1000;
    for (let i = 0; i < 15; i++) {
      // Sent as the pause ends, refused again 2 ms later with another wait of 1 s.
      aimd.sent(t);
      expect(aimd.throttled(t, aimd.rate, t + 2, t + 1002)).toBe(false);
      t += 1002;
    }
    expect(aimd.rate).toBe(cut);
    expect(aimd.learned.ceiling).toBe(ceiling);
    // Over: the rate climbs back to just under the ceiling.
    run(aimd, t, 5000);
    expect(aimd.rate).toBeGreaterThan(ceiling * 0.9);
  });

  it('a 429 with no pause before it, or on a later request after the pause, still cuts the rate', () => {
    const aimd = new AimdRate({}, { requestsPerSecond: 95, ceiling: 100 }, 0);
    const t = run(aimd, 0, 1000);
    aimd.throttled(t - 2, aimd.rate, t, t); // no wait asked: no pause
    const before = aimd.rate;
    aimd.sent(t + 1);
    expect(aimd.throttled(t + 1, before, t + 3, t + 1003)).toBe(true);
    expect(aimd.rate).toBeLessThan(before);
  });

  it('forgets a ceiling no 429 has set for a day, and probes from the rate kept', () => {
    const day = 86_400_000;
    const aimd = new AimdRate({}, { requestsPerSecond: 2, ceiling: 2.1, refused: 2.1, limitedAt: 0 }, day + 1);
    expect(aimd.limitFound).toBe(false);
    expect(aimd.rate).toBe(2);
    run(aimd, day + 1, 8000);
    expect(aimd.rate).toBeGreaterThan(50);
    const fresh = new AimdRate({}, { requestsPerSecond: 2, ceiling: 2.1, refused: 2.1, limitedAt: 0 }, day - 1);
    expect(fresh.limitFound).toBe(true);
  });

  it('a ceiling learned too low climbs back by the time since its 429: the rate refused doubles every 30 min', () => {
    const hours = 3_600_000;
    // A storm once saved 5 requests/s for a target that takes far more; 3 h later the next cycle runs.
    const aimd = new AimdRate({}, { requestsPerSecond: 4.75, ceiling: 5, refused: 5, limitedAt: 0 }, 3 * hours);
    run(aimd, 3 * hours, 20_000);
    expect(aimd.rate).toBeGreaterThan(50);
    // Kept for the next cycle: the climb held without a 429, not only the old ceiling.
    expect(aimd.learned.ceiling).toBeGreaterThan(40);
    expect(aimd.learned.limitedAt).toBe(0);
    // The same memory a minute old stays put: a limit found recently is trusted.
    const recent = new AimdRate({}, { requestsPerSecond: 4.75, ceiling: 5, refused: 5, limitedAt: 0 }, 60_000);
    run(recent, 60_000, 20_000);
    expect(recent.rate).toBeLessThan(6);
  });

  it('never goes past maxRate nor under minRate', () => {
    const aimd = new AimdRate({ maxRate: 30 }, undefined, 0);
    run(aimd, 0, 3000);
    expect(aimd.rate).toBe(30);
    const low = new AimdRate({}, { requestsPerSecond: 0.3, ceiling: 0.3 }, 0);
    for (let i = 0; i < 5; i++) low.throttled(i * 2000, low.rate, i * 2000 + 1, i * 2000 + 1000);
    expect(low.rate).toBe(0.2);
  });
});

describe('rateModeOf', () => {
  it('is adaptive without requestsPerSecond, or with adaptive: true (the configured rate then bounds it)', () => {
    expect(rateModeOf({ maxConcurrent: 4 })).toEqual({ kind: 'adaptive', maxConcurrent: 4, maxRate: undefined });
    expect(rateModeOf({ requestsPerSecond: 200, maxConcurrent: 4, adaptive: true })).toEqual({ kind: 'adaptive', maxConcurrent: 4, maxRate: 200 });
  });

  it('is fixed with requestsPerSecond, or with adaptive: false (10 requests/s then, as before)', () => {
    expect(rateModeOf({ requestsPerSecond: 25, maxConcurrent: 2, burst: 5 })).toEqual({ kind: 'fixed', rateLimit: { requestsPerSecond: 25, maxConcurrent: 2, burst: 5 } });
    expect(rateModeOf({ maxConcurrent: 4, adaptive: false })).toEqual({ kind: 'fixed', rateLimit: { requestsPerSecond: 10, maxConcurrent: 4 } });
  });
});
