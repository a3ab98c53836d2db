import type { SnapshotProblem, SourceGroup, SourceUser } from '../src/model.js';

export interface RawUserRow {
  location: string;
  record: Record<string, unknown>;
}

export interface RawGroupRow {
  location: string;
  record: Record<string, unknown>;
}

function asText(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() === '' ? undefined : v.trim();
  if (typeof v === 'number') return String(v);
  return undefined;
}

function asActive(v: unknown): boolean | undefined {
  if (v === undefined || v === null || v === '') return true;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (['true', '1', 'yes'].includes(s)) return true;
    if (['false', '0', 'no'].includes(s)) return false;
  }
  return undefined;
}

/**
 * Turns raw rows into a validated snapshot. Rows with no id, a duplicate id, no
 * userName or a malformed `active` are reported and skipped; group members that
 * name no known user (or group) are reported and dropped.
 */
export function validateRows(
  users: RawUserRow[],
  groups: RawGroupRow[],
): { users: SourceUser[]; groups: SourceGroup[]; problems: SnapshotProblem[] } {
  const problems: SnapshotProblem[] = [];
  const outUsers: SourceUser[] = [];
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const { record } of users) {
    const id = asText(record.id);
    if (id !== undefined) {
      if (seen.has(id)) duplicates.add(id);
      seen.add(id);
    }
  }
  for (const { location, record } of users) {
    const id = asText(record.id);
    if (id === undefined) {
      problems.push({ location, message: 'missing id' });
      continue;
    }
    if (duplicates.has(id)) {
      problems.push({ location, sourceId: id, message: `duplicate id ${JSON.stringify(id)}` });
      continue;
    }
    if (asText(record.userName) === undefined) {
      problems.push({ location, sourceId: id, message: 'missing userName' });
      continue;
    }
    const active = asActive(record.active);
    if (active === undefined) {
      problems.push({ location, sourceId: id, message: `active must be true or false, got ${JSON.stringify(record.active)}` });
      continue;
    }
    const attributes: Record<string, unknown> = {};
    for (const k in record) {
      if (k === 'id' || k === 'active') continue;
      const v = record[k];
      if (v === '' || v === null || v === undefined) continue;
      attributes[k] = typeof v === 'string' ? v.trim() : v;
    }
    outUsers.push({ id, attributes, active });
  }
  const userIds = new Set(outUsers.map((u) => u.id));

  const outGroups: SourceGroup[] = [];
  const seenGroups = new Set<string>();
  const groupIds = new Set(groups.map((g) => asText(g.record.id)).filter((x): x is string => x !== undefined));
  for (const { location, record } of groups) {
    const id = asText(record.id);
    const displayName = asText(record.displayName);
    if (id === undefined || displayName === undefined) {
      problems.push({ location, ...(id ? { sourceId: id } : {}), message: id ? 'missing displayName' : 'missing id' });
      continue;
    }
    if (seenGroups.has(id)) {
      problems.push({ location, sourceId: id, message: `duplicate group id ${JSON.stringify(id)}` });
      continue;
    }
    seenGroups.add(id);
    const rawMembers = record.members;
    let list: unknown[];
    if (Array.isArray(rawMembers)) list = rawMembers;
    else if (typeof rawMembers === 'string') list = rawMembers.split(';');
    else if (rawMembers === undefined || rawMembers === null) list = [];
    else {
      problems.push({ location, sourceId: id, message: 'members must be a list of user ids' });
      continue;
    }
    const members: string[] = [];
    const memberSet = new Set<string>();
    for (const m of list) {
      const mid = asText(m);
      if (mid === undefined) continue;
      if (!userIds.has(mid) && !groupIds.has(mid)) {
        problems.push({ location, sourceId: id, message: `member ${JSON.stringify(mid)} is not a known user or group` });
        continue;
      }
      if (!memberSet.has(mid)) {
        memberSet.add(mid);
        members.push(mid);
      }
    }
    outGroups.push({ id, displayName, members });
  }
  return { users: outUsers, groups: outGroups, problems };
}
