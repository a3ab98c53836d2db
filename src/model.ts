/** A user as the source directory holds it (DESIGN.md, "The pipeline"). */
export interface SourceUser {
  id: string;
  /** The row as read (text trimmed, empty values removed); its `id` and `active` are the fields'. */
  attributes: Record<string, unknown>;
  active: boolean;
}

export interface SourceGroup {
  id: string;
  displayName: string;
  /** User ids (group ids too when nesting is on). */
  members: string[];
}

export interface Snapshot {
  users: SourceUser[];
  groups: SourceGroup[];
}

/** A row the source held that could not be used; reported as an event and skipped. */
export interface SnapshotProblem {
  /** Where: `users.csv:12` or `directory.json users[3]`. */
  location: string;
  sourceId?: string;
  message: string;
}

export interface SnapshotResult {
  snapshot: Snapshot;
  problems: SnapshotProblem[];
}
