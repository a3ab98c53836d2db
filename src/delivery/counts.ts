/** What a cycle did, counted as it happens. */
export interface CycleCounts {
  planned: number;
  created: number;
  adopted: number;
  updated: number;
  deactivated: number;
  reactivated: number;
  deleted: number;
  failed: number;
  held: number;
  /** Users not sent because a profile rule or required mapping failed. */
  invalid: number;
  skippedRows: number;
  groupsCreated: number;
  groupsAdopted: number;
  groupsUpdated: number;
  groupsDeleted: number;
  membersAdded: number;
  membersRemoved: number;
  /** Failed operations kept for the next cycle. */
  escrowed: number;
  /** Operations given up after `escrow.maxCycles` failing cycles (not sent). */
  givenUp: number;
  /** Operations not started because of a shutdown, or a stop of the cycle (credentials refused, every request refused). */
  notStarted: number;
  /** 429 answers the delivery waited out. */
  rateLimitWaits: number;
}

export const emptyCounts = (): CycleCounts => ({
  planned: 0,
  created: 0,
  adopted: 0,
  updated: 0,
  deactivated: 0,
  reactivated: 0,
  deleted: 0,
  failed: 0,
  held: 0,
  invalid: 0,
  skippedRows: 0,
  groupsCreated: 0,
  groupsAdopted: 0,
  groupsUpdated: 0,
  groupsDeleted: 0,
  membersAdded: 0,
  membersRemoved: 0,
  escrowed: 0,
  givenUp: 0,
  notStarted: 0,
  rateLimitWaits: 0,
});
