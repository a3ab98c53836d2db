import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeFindings, runCampaign } from './campaign.js';

/**
 * The short campaign of every test run: fixed seeds (Bulk and versions on and off),
 * every fault and every source event drawn at random, kills and SIGTERMs included,
 * through the built CLI. A broken invariant fails with its seed and cycle, to replay
 * with `npm run chaos -- --seed N --cycles K`. About two minutes on two cores.
 */
const CLI = resolve('dist/src/cli/main.js');

/** seed → cycles; the first draw of a seed picks Bulk, the second ETags. */
const CI_SEEDS: readonly (readonly [number, number])[] = [
  [7, 20], // Bulk and ETags
  [8, 20], // Bulk
  [2, 20], // ETags
  [5, 20], // neither
];

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('build first: npm run build (npm test does it)');
});

describe('chaos campaign', () => {
  it.each(CI_SEEDS)('seed %i keeps every invariant for %i cycles', async (seed, cycles) => {
    // 50 groups for the fan-out user here (500 in `npm run chaos`): the same path, a tenth of the requests.
    const result = await runCampaign({ seed, cycles, users: 12, fanGroups: 50, cli: CLI });
    expect(describeFindings(result)).toEqual([]);
  }, 600_000);
});
