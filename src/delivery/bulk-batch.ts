/** One Bulk request as it fills, and the writes waiting in it (bulk.ts sends it). */
import { BULK_ENVELOPE_BYTES, type BulkOperation, type BulkOperationAnswer } from '../scim/bulk.js';
import type { ScimResource } from '../scim/client.js';
import type { LostAnswerPolicy } from '../scim/retry.js';

/** One write waiting for its Bulk request. */
export interface Pending {
  op: BulkOperation;
  bytes: number;
  /** The source user a POST /Users creates. */
  user?: string | undefined;
  /** As for its single request: whether it may be sent again after an answer that was lost. */
  lostAnswer: LostAnswerPolicy;
  /** The same write as a request of its own (after a fall-back, or an operation the target asks to send again). */
  single(): Promise<BulkOperationAnswer | undefined>;
  resolve(answer: BulkOperationAnswer | undefined): void;
  reject(err: unknown): void;
}

export class Batch {
  readonly items: Pending[] = [];
  bytes = BULK_ENVELOPE_BYTES;
  /** Users created by this request: source id → bulkId. */
  readonly users = new Map<string, string>();
  private finish!: () => void;
  /** Settles once every answer of this request is known. */
  readonly done = new Promise<void>((resolve) => (this.finish = resolve));
  settle(): void {
    this.finish();
  }
}

/** A wait that never ends, raced with one that does. */
export const NEVER = new Promise<void>(() => undefined);

export function byteSize(op: BulkOperation): number {
  return Buffer.byteLength(JSON.stringify(op));
}

/** A single request's result as an operation's answer (success only: its errors are thrown as they are). */
export function toAnswer(result: { resource?: ScimResource; attempts: number }): BulkOperationAnswer {
  return { status: 200, location: undefined, resource: result.resource, error: undefined };
}
