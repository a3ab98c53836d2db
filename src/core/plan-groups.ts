import type { GroupBehaviour } from './target-behaviour.js';
import { membersDigest } from './digest.js';
import type { GroupOperation } from './operations.js';
import type { DesiredGroup, DesiredUser, StateGroup, StateUser } from './records.js';

export interface GroupPlanOptions {
  behaviour: GroupBehaviour;
  /** Effective members per request: `groups.membersPerRequest`, else the profile's. */
  membersPerRequest: number;
  groupDeprovision: 'delete' | 'none';
  userDeprovision: 'deactivate' | 'delete' | 'none';
}

export interface GroupPlanInput {
  desired: readonly DesiredGroup[];
  state: readonly StateGroup[];
  desiredUsers: ReadonlyMap<string, DesiredUser>;
  stateUsers: ReadonlyMap<string, StateUser>;
  /** Users the same plan creates: members that may be added once their create settles. */
  creating: ReadonlySet<string>;
  /** Users held this cycle (not updated): their memberships still follow the source while their account exists. */
  held?: ReadonlyMap<string, StateUser>;
  /** Users whose memberships stay exactly as pushed: neither added to nor removed from any group. */
  frozen?: ReadonlySet<string>;
  /** Groups whose source row is in doubt: no change, no deletion. */
  heldGroups?: ReadonlySet<string>;
}

export interface GroupPlan {
  /** Creates, renames and member batches, in dependency order. */
  operations: GroupOperation[];
  /** Group deletions: they go last. */
  deletions: GroupOperation[];
  /** For each user, the keys of the batches that take it out of a group. */
  removalsByUser: Map<string, string[]>;
}

const groupKey = (id: string) => `group:${id}`;
const userKey = (id: string) => `user:${id}`;

function chunk<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

interface Request {
  displayName?: string;
  add: string[];
  remove: string[];
  replaceMembers?: string[];
}

/**
 * Packs one group's changes into requests: at most `n` members a request, and,
 * where the target takes several Operations in one PATCH, a rename, removals and
 * additions share requests (a 3-member change is one request).
 */
export function packRequests(
  change: { displayName?: string; add: readonly string[]; remove: readonly string[]; all: readonly string[] },
  behaviour: GroupBehaviour,
  n: number,
): Request[] {
  const rename = change.displayName !== undefined ? { displayName: change.displayName } : {};
  if (behaviour.memberRemoval === 'replace' && change.remove.length > 0) {
    // This dialect can only take members out by sending the whole list.
    if (behaviour.multipleOperations || change.displayName === undefined) {
      return [{ ...rename, add: [...change.add], remove: [...change.remove], replaceMembers: [...change.all] }];
    }
    return [
      { ...rename, add: [], remove: [] },
      { add: [...change.add], remove: [...change.remove], replaceMembers: [...change.all] },
    ];
  }
  const requests: Request[] = [];
  if (behaviour.multipleOperations) {
    let current: Request = { ...rename, add: [], remove: [] };
    const room = () => n - current.add.length - current.remove.length;
    const flush = () => {
      requests.push(current);
      current = { add: [], remove: [] };
    };
    for (const [field, list] of [['remove', change.remove], ['add', change.add]] as const) {
      for (const id of list) {
        if (room() === 0) flush();
        current[field].push(id);
      }
    }
    if (current.displayName !== undefined || current.add.length + current.remove.length > 0) flush();
    return requests;
  }
  if (change.displayName !== undefined) requests.push({ displayName: change.displayName, add: [], remove: [] });
  // RFC paths name one member each: without several Operations a request, one removal a request.
  const removeSize = behaviour.memberRemoval === 'path' ? 1 : n;
  for (const part of chunk(change.remove, removeSize)) requests.push({ add: [], remove: part });
  for (const part of chunk(change.add, n)) requests.push({ add: part, remove: [] });
  return requests;
}

/**
 * Plans group creates, renames, membership batches and deletions. Pure: member
 * sets are compared with the ones last pushed, and only the difference is sent.
 */
export function planGroups(input: GroupPlanInput, options: GroupPlanOptions): GroupPlan {
  const { behaviour } = options;
  const n = Math.max(1, options.membersPerRequest);
  const stateById = new Map(input.state.map((g) => [g.sourceId, g]));
  const operations: GroupOperation[] = [];
  const deletions: GroupOperation[] = [];
  const removalsByUser = new Map<string, string[]>();

  const existsInTarget = (id: string) => {
    const s = input.stateUsers.get(id);
    return !!s && s.targetId !== null && s.status !== 'deleted';
  };
  /** Whether a desired member should be in the target group at the end of this cycle. */
  const memo = new Map<string, boolean>();
  const eligible = (id: string): boolean => {
    let known = memo.get(id);
    if (known === undefined) memo.set(id, (known = decide(id)));
    return known;
  };
  const decide = (id: string): boolean => {
    const h = input.held?.get(id);
    if (h) return h.targetId !== null && h.status !== 'deleted';
    const d = input.desiredUsers.get(id);
    if (!d) return false;
    if (d.active) return existsInTarget(id) || input.creating.has(id);
    if (options.userDeprovision === 'delete' || behaviour.inactiveMembers === 'remove') return false;
    return existsInTarget(id);
  };
  const after = (members: readonly string[]) => members.filter((m) => input.creating.has(m)).map(userKey);

  const desiredIds = new Set<string>();
  for (const g of [...input.desired].sort((a, b) => a.sourceId.localeCompare(b.sourceId))) {
    desiredIds.add(g.sourceId);
    if (input.heldGroups?.has(g.sourceId)) continue;
    const s = stateById.get(g.sourceId);
    const linked = s && s.targetId !== null && s.status !== 'deleted' ? s : undefined;
    const frozen = input.frozen && input.frozen.size > 0 ? input.frozen : undefined;
    // A frozen member stays where it is: in the group if it was pushed there, out of it if not.
    const want = frozen ? g.members.filter((m) => (frozen.has(m) ? !!linked?.members.has(m) : eligible(m))) : g.members.filter(eligible);
    let previous: string | undefined;
    let batch = 0;
    const emit = (req: Request, targetId: string | null) => {
      batch++;
      const key = `${groupKey(g.sourceId)}#${batch}`;
      const kind =
        req.displayName !== undefined || req.replaceMembers !== undefined || (req.add.length > 0 && req.remove.length > 0)
          ? 'group.update'
          : req.add.length > 0
            ? 'group.members.add'
            : 'group.members.remove';
      operations.push({
        kind,
        key,
        sourceId: g.sourceId,
        displayName: g.displayName,
        targetId,
        ...(req.displayName !== undefined ? { rename: req.displayName } : {}),
        add: req.add,
        remove: req.remove,
        ...(req.replaceMembers ? { replaceMembers: req.replaceMembers } : {}),
        dependsOn: [...(previous ? [previous] : []), ...after(req.add), ...after(req.replaceMembers ?? [])],
      });
      for (const u of req.remove) removalsByUser.set(u, [...(removalsByUser.get(u) ?? []), key]);
      previous = key;
    };

    if (!linked) {
      const first = behaviour.createWithMembers ? want.slice(0, n) : [];
      operations.push({
        kind: 'group.create',
        key: groupKey(g.sourceId),
        sourceId: g.sourceId,
        displayName: g.displayName,
        members: first,
        dependsOn: after(first),
      });
      previous = groupKey(g.sourceId);
      const rest = want.slice(first.length);
      for (const req of packRequests({ add: rest, remove: [], all: want }, behaviour, n)) emit(req, null);
      continue;
    }
    const rename = linked.displayName !== g.displayName ? g.displayName : undefined;
    // Most groups did not change: the same member digest as stored means no read of the stored members.
    if (rename === undefined && linked.membersDigest !== undefined && linked.membersDigest === membersDigest(want)) continue;
    const wantSet = new Set(want);
    if (frozen) {
      for (const m of linked.members) {
        if (frozen.has(m) && !wantSet.has(m)) {
          want.push(m);
          wantSet.add(m);
        }
      }
    }
    const add = want.filter((m) => !linked.members.has(m));
    const remove = [...linked.members].filter((m) => !wantSet.has(m)).sort();
    const requests = packRequests({ ...(rename !== undefined ? { displayName: rename } : {}), add, remove, all: want }, behaviour, n);
    for (const req of requests) emit(req, linked.targetId);
  }

  if (options.groupDeprovision === 'delete') {
    for (const s of [...input.state].sort((a, b) => a.sourceId.localeCompare(b.sourceId))) {
      if (desiredIds.has(s.sourceId) || input.heldGroups?.has(s.sourceId) || s.targetId === null || s.status === 'deleted') continue;
      deletions.push({ kind: 'group.delete', key: groupKey(s.sourceId), sourceId: s.sourceId, displayName: s.displayName, targetId: s.targetId, dependsOn: [] });
    }
  }
  return { operations, deletions, removalsByUser };
}
