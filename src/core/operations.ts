import { createHash } from 'node:crypto';
import type { AttrChanges, ScimAttrs } from './attributes.js';

interface OpBase {
  /** Unique within a plan: `user:<sourceId>`. */
  key: string;
  sourceId: string;
  /** Keys of operations that must settle first (e.g. a manager's create). */
  dependsOn: string[];
}

export type UserOperation =
  | (OpBase & { kind: 'user.create'; attrs: ScimAttrs })
  | (OpBase & {
      kind: 'user.update';
      targetId: string;
      changes: AttrChanges;
      /** Set on a move to temporary values (core/renames.ts): the users waiting for the values it gives up. */
      makesRoomFor?: string[];
    })
  | (OpBase & { kind: 'user.deactivate'; targetId: string; changes: AttrChanges; reason: 'inactive' | 'removed' })
  | (OpBase & { kind: 'user.reactivate'; targetId: string; changes: AttrChanges })
  | (OpBase & { kind: 'user.delete'; targetId: string; reason: 'inactive' | 'removed' });

interface GroupOpBase extends OpBase {
  /** `group:<sourceId>` for a create or delete, `group:<sourceId>#<n>` for the n-th change request. */
  key: string;
  displayName: string;
}

/**
 * One request's worth of change to a group. Members are user source ids; the
 * target ids are resolved when the request is sent. `targetId` is null while the
 * group is created in the same cycle.
 */
export interface GroupChange extends GroupOpBase {
  kind: 'group.update' | 'group.members.add' | 'group.members.remove';
  targetId: string | null;
  rename?: string;
  add: string[];
  remove: string[];
  /** Set for targets that only take removals as a whole new member list. */
  replaceMembers?: string[];
  /**
   * Member values that name no managed account, as the target holds them (reconcile --apply,
   * core/stray-members.ts): `remove` are taken out; `keep` stay in a whole new member list.
   */
  strays?: { remove: string[]; keep: string[] };
}

export type GroupOperation =
  | (GroupOpBase & { kind: 'group.create'; members: string[] })
  | GroupChange
  | (GroupOpBase & { kind: 'group.delete'; targetId: string });

export type Operation = UserOperation | GroupOperation;

export type OperationKind = Operation['kind'];

/** Whether an operation is about a user: its own, or a membership change naming it. */
export function concerns(op: Operation, userId: string): boolean {
  if (op.kind.startsWith('user.')) return op.sourceId === userId;
  if (op.kind === 'group.create') return op.members.includes(userId);
  if (op.kind === 'group.update' || op.kind === 'group.members.add' || op.kind === 'group.members.remove') {
    return op.add.includes(userId) || op.remove.includes(userId);
  }
  return false;
}

/** A stable digest of what an operation would send (its dependencies aside): an escrowed operation is given up until this changes. */
export function fingerprint(op: Operation): string {
  const content = JSON.stringify(op, (k, v: unknown) => (k === 'dependsOn' ? undefined : v));
  return createHash('sha256').update(content).digest('hex').slice(0, 32);
}
