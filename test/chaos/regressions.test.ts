import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChaosFaultKind } from '../support/devtarget/chaos.js';
import { describeFindings, runCampaign } from './campaign.js';
import type { SourceEventKind } from './source.js';

/**
 * Every defect a campaign found, as the campaign that found it: its seed, its
 * cycles and what it drew from (bench/CHAOS.md). Each must keep every invariant.
 */
const CLI = resolve('dist/src/cli/main.js');

/** The plan less the defects found first, so that a campaign reaches the others. */
const WITHOUT_REHIRES_AND_SWAPS: SourceEventKind[] = [
  'hire', 'leave', 'deactivate', 'reactivate', 'retitle', 'join', 'part', 'new-team',
  'case-flip', 'manager-cycle', 'fan-out', 'group-vanishes', 'rows-in-doubt', 'shrink',
];
const QUIET_FAULTS: ChaosFaultKind[] = [
  'lost-late', 'lost-502', 'lost-reset', 'filter-ignored', 'filter-first', 'filter-case', 'conflict-bare',
  'retry-after-missing', 'retry-after-date', 'trickle', 'schema-lies', 'discovery-hangs', 'etag-moves',
  'page-repeats', 'page-skips', 'other-users-resource',
];

interface Regression {
  defect: string;
  seed: number;
  cycles: number;
  faults?: ChaosFaultKind[];
  events?: SourceEventKind[];
  /** The CI campaign's directory (campaign.test.ts) when it found the defect. @default 16 users, 500 fan-out groups */
  users?: number;
  fanGroups?: number;
}

const REGRESSIONS: readonly Regression[] = [
  { defect: 'a rehire in the leaver’s cycle adopts the leaver’s account, whose deactivation then lands on it', seed: 6, cycles: 2 },
  {
    defect: 'a rehire’s adoption of the leaver’s account lands, its answer lost at every attempt: the leaver stays linked and is deactivated on it',
    seed: 5,
    cycles: 13,
    users: 12,
    fanGroups: 50,
  },
  { defect: 'a 429 with Retry-After: Fri, 31 Dec 9999 under the adaptive rate: the cycle never ends', seed: 5, cycles: 10 },
  { defect: 'a 429 with Retry-After: 1000000000 under the adaptive rate: the cycle never ends', seed: 20, cycles: 5 },
  {
    defect: 'Bulk resolves one bulkId: reference per operation: groups hold bulkId:b10, exit 0',
    seed: 8,
    cycles: 1,
    events: WITHOUT_REHIRES_AND_SWAPS,
    faults: [...QUIET_FAULTS, 'bulk-one-reference', 'bulk-mislabel', 'bulk-refused-404', 'bulk-refused-501'],
  },
  {
    defect: "Bulk answers each POST with another POST's bulkId: users linked to each other's accounts",
    seed: 9,
    cycles: 1,
    events: WITHOUT_REHIRES_AND_SWAPS,
    faults: [...QUIET_FAULTS, 'bulk-one-reference', 'bulk-mislabel', 'bulk-refused-404', 'bulk-refused-501'],
  },
  {
    defect: '/Bulk alone answers 501 while bulk.supported: the members never arrive, the cycle says success',
    seed: 8,
    cycles: 1,
    events: WITHOUT_REHIRES_AND_SWAPS,
    faults: [...QUIET_FAULTS, 'bulk-refused-501'],
  },
  {
    defect: '/Bulk alone answers 404: the members never arrive, the cycle says success',
    seed: 12,
    cycles: 15,
    events: WITHOUT_REHIRES_AND_SWAPS,
    faults: [...QUIET_FAULTS, 'bulk-one-reference', 'bulk-mislabel', 'bulk-refused-404', 'bulk-refused-501'],
  },
  {
    defect: 'a 403 on /Bulk alone quarantines the integration as if the credentials were refused',
    seed: 8,
    cycles: 3,
    events: WITHOUT_REHIRES_AND_SWAPS,
    faults: [...QUIET_FAULTS, 'bulk-refused-403'],
  },
  { defect: 'two users swap userNames: each PATCH answers 409 while the other holds the name, every cycle', seed: 3, cycles: 3 },
];

const replay = async (r: Regression) => {
  const result = await runCampaign({
    seed: r.seed,
    cycles: r.cycles,
    users: r.users ?? 16,
    cli: CLI,
    ...(r.fanGroups !== undefined ? { fanGroups: r.fanGroups } : {}),
    ...(r.faults ? { faults: r.faults } : {}),
    ...(r.events ? { events: r.events } : {}),
  });
  expect(describeFindings(result)).toEqual([]);
};

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('build first: npm run build (npm test does it)');
});

describe('chaos regressions', () => {
  it.each(REGRESSIONS)('seed $seed, $cycles cycles: $defect', replay, 600_000);
});
