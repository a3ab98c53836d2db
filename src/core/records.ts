import type { ScimAttrs } from './attributes.js';

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

export type ObjectStatus = 'active' | 'inactive' | 'deleted';

/** A user as scope and mapping want it in the target. */
export interface DesiredUser {
  sourceId: string;
  attrs: ScimAttrs;
  active: boolean;
  /** Sent on create only (`apply: onCreate`), never compared afterwards. */
  createOnly?: ScimAttrs;
  /** Paths an empty source value must not clear (`keepOnEmpty`). */
  keep?: string[];
}

/** A user as state remembers pushing it. */
export interface StateUser {
  readonly sourceId: string;
  readonly targetId: string | null;
  readonly status: ObjectStatus;
  readonly attrs: ScimAttrs;
  /** attrsDigest of the attributes, when read from state: an unchanged user is told apart without reading them. */
  readonly digest?: number | undefined;
}

/** A group as the target should hold it: members are user source ids. */
export interface DesiredGroup {
  sourceId: string;
  displayName: string;
  members: string[];
}

/** A group as state remembers pushing it, with the member set last pushed. */
export interface StateGroup {
  sourceId: string;
  targetId: string | null;
  status: ObjectStatus;
  displayName: string;
  members: ReadonlySet<string>;
  /** membersDigest of `members`, when read from state: an unchanged member set is told without reading it. */
  readonly membersDigest?: number | undefined;
}

/** A group as it is saved (saveGroup); its members go in a MemberChange. */
export interface SavedGroup {
  sourceId: string;
  targetId: string | null;
  status: ObjectStatus;
  displayName: string;
}

/** A change of a group's members: `members` replaces the whole set, `add`/`remove` adjust it otherwise. */
export interface MemberChange {
  add?: readonly string[];
  remove?: readonly string[];
  /** The whole member set (a create, an adoption, a read-back). */
  members?: readonly string[];
}

/** A resource as the target answered it: its id and whatever attributes it carries. */
export interface TargetResource {
  id: string;
  [attribute: string]: unknown;
}
