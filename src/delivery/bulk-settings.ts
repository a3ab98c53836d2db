/** What a delivery may do with SCIM Bulk, and what it learns of the target's /Bulk for the next cycles. */

/** Why a delivery gave up Bulk: /Bulk itself refused (no Bulk here), or a Bulk request was answered badly. */
export type BulkFallback = { kind: 'refused'; status: number; reason: string } | { kind: 'bad-answer'; reason: string };

/** What a delivery learnt of the target's Bulk, for the next cycles (kept as target facts by the engine). */
export type BulkLesson = Extract<BulkFallback, { kind: 'refused' }> | { kind: 'references'; reason: string };

/** How a delivery may use Bulk: from the configuration (`target.bulk`, `target.bulkMaxOperations`) and what earlier cycles learnt. */
export type BulkSettings =
  | { use: 'never'; reason: string }
  | {
      use: 'when-supported';
      /** Instead of the target's declared bulk.maxOperations. */
      maxOperations: number | undefined;
      /** `none`: the target was seen resolving `bulkId:` references wrongly; a group waits for its members' ids. */
      references: 'one' | 'none';
    };
