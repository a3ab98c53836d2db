/** How operations and stored values read as text: the CLI's plan, dry run and `state show`. */
import { isUserRef, type AttrValue } from '../../core/attributes.js';
import type { Operation } from '../../core/operations.js';

export type { Operation, OperationKind } from '../../core/operations.js';

/** A value as the CLI prints it: JSON (a string quoted), or `<user ID>` for a reference to another user. */
export function valueJson(v: AttrValue): string {
  return isUserRef(v) ? `<user ${v.userRef}>` : JSON.stringify(v);
}

/** A value as the console and reconcile's report show it: plain text, `<user ID>` for a reference, null when there is none. */
export function valueText(v: AttrValue | undefined): string | null {
  return v === undefined ? null : isUserRef(v) ? `<user ${v.userRef}>` : String(v);
}

/** What an operation changes, in a few words (the DETAILS column of `scimsync plan`). */
export function operationDetails(op: Operation): string {
  switch (op.kind) {
    case 'user.create':
      return String(op.attrs.userName ?? '');
    case 'user.update':
    case 'user.reactivate':
    case 'user.deactivate': {
      const parts = [...Object.entries(op.changes.set).map(([p, v]) => `${p}=${valueJson(v)}`), ...op.changes.remove.map((p) => `-${p}`)];
      const reason = op.kind === 'user.deactivate' ? `(${op.reason}) ` : '';
      return `${reason}${parts.join(', ')}`.trim();
    }
    case 'user.delete':
      return `(${op.reason})`;
    case 'group.create':
      return `${op.displayName} (${op.members.length} members)`;
    case 'group.update':
    case 'group.members.add':
    case 'group.members.remove': {
      const parts: string[] = [];
      if (op.rename !== undefined) parts.push(`rename to ${op.rename}`);
      if (op.replaceMembers) parts.push(`member list of ${op.replaceMembers.length}`);
      if (op.add.length) parts.push(`+${op.add.length} members`);
      if (op.remove.length) parts.push(`-${op.remove.length} members`);
      if (op.strays?.remove.length) parts.push(`-${op.strays.remove.length} members not managed by scimsync`);
      return `${op.displayName}: ${parts.join(', ')}`;
    }
    case 'group.delete':
      return op.displayName;
  }
}

/** One line: the kind, the source id and the details. */
export function describeOperation(op: Operation): string {
  return `${op.kind.padEnd(20)} ${op.sourceId}  ${operationDetails(op)}`.trimEnd();
}
export { unwritableReason } from '../../core/target-schema.js';
