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
    expect(aimd.learned.ceiling).toBeGreaterThanOrEqual(50);
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
