import type { SnapshotProblem, SourceGroup, SourceUser } from '../src/core/records.js';

/** A source row and where it came from (a file position, a DN, a URL). */
export interface RawRow {
  location: string;
  record: Record<string, unknown>;
}

/** Where a malformed row still names its user: the engine then holds that user as it is. */
export interface MalformedRowOptions {
  sourceId?: string;
}

/** A row that could not be read as a record (a CSV line with the wrong number of columns, or with bytes that are not UTF-8). */
export class MalformedRow {
  readonly sourceId: string | undefined;
  constructor(
    readonly reason: string,
    options: MalformedRowOptions = {},
  ) {
    this.sourceId = options.sourceId;
  }
}

/**
 * Rows as a source read them, with where each came from: `at(i)` names row i,
 * and is called only for rows with a problem (a directory of a million rows
 * does not build a million location strings). A row that is not an object is
 * reported as malformed.
 */
export interface RawRows {
  records: readonly unknown[];
  at: (index: number) => string;
}

/** RawRows from rows that carry their location. */
export function rowsOf(rows: readonly RawRow[]): RawRows {
  return { records: rows.map((r) => r.record), at: (i) => rows[i]!.location };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof MalformedRow);
}

function malformed(v: unknown): string {
  return `malformed row: ${v instanceof MalformedRow ? v.reason : 'expected an object'}`;
}

function asText(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() === '' ? undefined : v.trim();
  if (typeof v === 'number') return String(v);
  return undefined;
}

// C0 controls but tab, DEL, C1 controls and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/;

/** Why a userName or an email is not text a person can trust, if it is not. */
function controlProblem(key: string, v: unknown): string | undefined {
  const text = asText(v);
  const m = text === undefined ? null : CONTROL.exec(text);
  if (!m) return undefined;
  const code = m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
  return `${key} contains a control character (U+${code} at character ${[...text!.slice(0, m.index)].length + 1})`;
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
 * userName, a control character in userName or email, or a malformed `active`
 * are reported and skipped; group members that name no known user (or group)
 * are reported and dropped. Every problem with a row whose id could be read
 * carries that id, so that the engine holds the user as it is; both rows of a
 * duplicate id are reported and neither is used.
 *
 * The records become the users' attributes as they are (text values trimmed,
 * empty ones removed, in place): the caller hands them over.
 */
export function validateRows(users: RawRows, groups: RawRows): { users: SourceUser[]; groups: SourceGroup[]; problems: SnapshotProblem[] } {
  const problems: SnapshotProblem[] = [];
  const outUsers: SourceUser[] = [];
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  const records = users.records;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const id = isRecord(record) ? asText(record.id) : record instanceof MalformedRow ? record.sourceId : undefined;
    if (id === undefined) continue;
    if (seen.has(id)) duplicates.add(id);
    else seen.add(id);
  }
  // Ids seen but not usable: members naming them are dropped like unknown ones.
  const rejected = new Set<string>(duplicates);
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    if (!isRecord(record)) {
      const sourceId = record instanceof MalformedRow ? record.sourceId : undefined;
      if (sourceId !== undefined) rejected.add(sourceId);
      problems.push({ location: users.at(i), ...(sourceId !== undefined ? { sourceId } : {}), message: malformed(record) });
      continue;
    }
    const id = asText(record.id);
    if (id === undefined) {
      problems.push({ location: users.at(i), message: 'missing id' });
      continue;
    }
    if (duplicates.has(id)) {
      problems.push({ location: users.at(i), sourceId: id, message: `duplicate id ${JSON.stringify(id)}` });
      continue;
    }
    if (asText(record.userName) === undefined) {
      rejected.add(id);
      problems.push({ location: users.at(i), sourceId: id, message: 'missing userName' });
      continue;
    }
    const control = controlProblem('userName', record.userName) ?? controlProblem('email', record.email);
    if (control !== undefined) {
      rejected.add(id);
      problems.push({ location: users.at(i), sourceId: id, message: control });
      continue;
    }
    const active = asActive(record.active);
    if (active === undefined) {
      rejected.add(id);
      problems.push({ location: users.at(i), sourceId: id, message: `active must be true or false, got ${JSON.stringify(record.active)}` });
      continue;
    }
    for (const k in record) {
      const v = record[k];
      if (typeof v === 'string') {
        const t = v.trim();
        if (t === '') delete record[k];
        else if (t.length !== v.length) record[k] = t;
      } else if (v === null || v === undefined) delete record[k];
    }
    outUsers.push({ id, attributes: record, active });
  }
  const isUser = (id: string) => seen.has(id) && !rejected.has(id);

  const outGroups: SourceGroup[] = [];
  const seenGroups = new Set<string>();
  const groupIds = new Set<string>();
  for (const record of groups.records) {
    const id = isRecord(record) ? asText(record.id) : undefined;
    if (id !== undefined) groupIds.add(id);
  }
  for (let i = 0; i < groups.records.length; i++) {
    const record = groups.records[i];
    const location = () => groups.at(i);
    if (!isRecord(record)) {
      problems.push({ location: location(), message: malformed(record) });
      continue;
    }
    const id = asText(record.id);
    const displayName = asText(record.displayName);
    if (id === undefined || displayName === undefined) {
      problems.push({ location: location(), ...(id ? { sourceId: id } : {}), message: id ? 'missing displayName' : 'missing id' });
      continue;
    }
    if (seenGroups.has(id)) {
      problems.push({ location: location(), sourceId: id, message: `duplicate group id ${JSON.stringify(id)}` });
      continue;
    }
    seenGroups.add(id);
    const rawMembers = record.members;
    let list: unknown[];
    if (Array.isArray(rawMembers)) list = rawMembers;
    else if (typeof rawMembers === 'string') list = rawMembers.split(';');
    else if (rawMembers === undefined || rawMembers === null) list = [];
    else {
      problems.push({ location: location(), sourceId: id, message: 'members must be a list of user ids' });
      continue;
    }
    const members: string[] = [];
    const memberSet = new Set<string>();
    for (const m of list) {
      const mid = asText(m);
      if (mid === undefined) continue;
      if (!isUser(mid) && !groupIds.has(mid)) {
        problems.push({ location: location(), sourceId: id, message: `member ${JSON.stringify(mid)} is not a known user or group` });
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
