import type { SnapshotResult } from '../src/core/records.js';

/** A source of truth: returns the whole directory as one snapshot. */
export interface SourceConnector {
  readonly kind: string;
  /** Reads the directory. Throws SourceError when the source cannot be read at all. */
  snapshot(): Promise<SnapshotResult>;
}
