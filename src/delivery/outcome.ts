import type { EventResult, EventType } from '../events/types.js';
import { ScimHttpError, errorMessage } from '../errors.js';
import type { PatchOperation } from '../scim/bodies.js';

/** What one operation came to: the event it writes. */
export interface Outcome {
  result: EventResult;
  type: EventType;
  summary: string;
  targetId?: string | null;
  /** Built for this outcome alone: the event completes it in place. */
  detail: Record<string, unknown>;
  /** Nothing was attempted and nothing needs saying (the cause was reported already). */
  silent?: boolean;
}

/** The detail of a failed request for its event: status, the target's scimType and detail, attempts. */
export function errorDetail(err: unknown): Record<string, unknown> {
  if (err instanceof ScimHttpError) {
    return {
      error: err.message,
      ...(err.status !== undefined ? { status: err.status } : {}),
      ...(err.scimType ? { scimType: err.scimType } : {}),
      ...(err.detail ? { scimDetail: err.detail } : {}),
      ...(err.requestId ? { requestId: err.requestId } : {}),
      attempts: (err as ScimHttpError & { attempts?: number }).attempts ?? 1,
    };
  }
  return { error: errorMessage(err) };
}

/** `(title, emails[type eq "work"].value)`: the paths a PATCH changed, for a summary. */
export function changedList(ops: readonly PatchOperation[]): string {
  const paths = ops.map((o) => o.path).filter((p) => p !== 'active');
  return paths.length ? ` (${paths.join(', ')})` : '';
}

/** A refused credential or a dead network is the target's problem, not one object's: it stops the cycle. */
export function isTargetProblem(err: unknown): boolean {
  return err instanceof ScimHttpError && (err.kind === 'fatal' || err.status === undefined);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
