import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { makeDirectory, type Directory, type Workspace } from '../support/harness.js';
import type { CompatServer, ServerCall, ServerUser } from './servers/server.js';

/** 200 people in four groups, one of them past a 100-member request. */
export function compatDirectory(): Directory {
  const d = makeDirectory(200);
  const ids = d.users.map((u) => u.id);
  d.groups = [
    { id: 'g1', displayName: 'Sales', members: ids.slice(0, 40) },
    { id: 'g2', displayName: 'Engineering', members: ids.slice(40, 160) },
    { id: 'g3', displayName: 'Managers', members: d.users.filter((u) => u.title === 'Manager').map((u) => u.id) },
    { id: 'g4', displayName: 'Support', members: ids.slice(190, 195) },
  ];
  return d;
}

export interface FailureEvent {
  type: string;
  sourceId: string | null;
  summary: string;
  detail: Record<string, unknown>;
}

/** What `scimsync events --result failure --json` lists. */
export async function failures(ws: Workspace): Promise<FailureEvent[]> {
  const res = await ws.run(['events', '--result', 'failure', '--json']);
  expect(res.code).toBe(0);
  return res.out.map((l) => JSON.parse(l) as FailureEvent);
}

export interface ReconcileReport {
  drift: { sourceId: string; path: string; pushed: string | null; actual: string | null }[];
  vanished: { sourceId: string }[];
  unmanaged: { targetId: string; userName: string; match: string | null }[];
  groupDrift: { displayName: string; missing: string[]; extra: string[] }[];
  vanishedGroups: unknown[];
}

export async function reconcileReport(ws: Workspace): Promise<ReconcileReport> {
  const res = await ws.run(['reconcile', '--json']);
  expect(res.err).toEqual([]);
  expect(res.code).toBe(0);
  return JSON.parse(res.out[0]!) as ReconcileReport;
}

/** Runs `args` and returns what the server received from scimsync meanwhile. */
export async function callsDuring(server: CompatServer, ws: Workspace, args: string[]): Promise<{ code: number; out: string; err: string; calls: ServerCall[] }> {
  server.calls.length = 0;
  const res = await ws.run(args);
  return { code: res.code, out: res.out.join('\n'), err: res.err.join('\n'), calls: [...server.calls] };
}

export const writesIn = (calls: ServerCall[]) => calls.filter((c) => c.method !== 'GET');

export function byExternalId(users: ServerUser[]): Map<string, ServerUser> {
  return new Map(users.filter((u) => u.externalId !== undefined).map((u) => [u.externalId!, u]));
}

export interface Expectations {
  /** Source users whose account the server cannot hold as sent (a server's RFC break), left out of the comparison. */
  exempt?: Set<string>;
}

/**
 * The server holds every source user with the source's values, every user who
 * left the source is inactive, and every group has exactly the source's members.
 */
export async function expectServerMatches(server: CompatServer, d: Directory, left: string[] = [], options: Expectations = {}): Promise<void> {
  const users = await server.users();
  const linked = byExternalId(users);
  for (const u of d.users) {
    if (options.exempt?.has(u.id)) continue;
    const account = linked.get(u.id);
    expect(account, `account of ${u.id}`).toBeDefined();
    const { userName, givenName, familyName, email, phone, title, active } = account!;
    expect({ userName, givenName, familyName, email: email?.toLowerCase(), phone, title, active }, u.id).toEqual({
      userName: u.userName,
      givenName: u.givenName,
      familyName: u.familyName,
      email: u.email?.toLowerCase(),
      phone: u.phone,
      title: u.title,
      active: u.active !== false,
    });
  }
  for (const id of left) expect(linked.get(id)?.active, `${id} left the source`).toBe(false);
  // One account per userName, whatever its case.
  const names = users.map((u) => u.userName.toLowerCase());
  expect(new Set(names).size).toBe(names.length);

  const externalOf = new Map(users.map((u) => [u.id, u.externalId ?? `unlinked:${u.id}`]));
  const groups = await server.groups();
  for (const g of d.groups ?? []) {
    const found = groups.filter((s) => s.displayName === g.displayName);
    expect(found, `group ${g.displayName}`).toHaveLength(1);
    const expected = g.members.filter((m) => d.users.some((u) => u.id === m) && !options.exempt?.has(m)).sort();
    expect(found[0]!.members.map((m) => externalOf.get(m)).sort(), `members of ${g.displayName}`).toEqual(expected);
  }
}

/** Deletes the workspace's state database, as a lost disk would. */
export function deleteState(ws: Workspace): void {
  for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) rmSync(join(ws.dir, f), { force: true });
}

/** The change cycle: attributes, a deactivation, a removal, a rename and membership changes. */
export interface Changes {
  edited: string[];
  deactivated: string;
  removed: string;
  renamed: string;
}

export function applyChanges(d: Directory): Changes {
  const at = (id: string) => d.users.find((u) => u.id === id)!;
  at('u00001').title = 'Director';
  at('u00002').familyName = 'Renamed';
  at('u00003').active = false;
  at('u00006').userName = 'user6.renamed@example.com';
  at('u00006').email = 'user6.renamed@example.com';
  d.users = d.users.filter((u) => u.id !== 'u00004');
  for (const g of d.groups ?? []) g.members = g.members.filter((m) => m !== 'u00004');
  const groups = d.groups!;
  groups[0]!.members = [...groups[0]!.members.filter((m) => m !== 'u00010'), 'u00170', 'u00171'];
  groups[3]!.displayName = 'Customer Support';
  groups[3]!.members = [...groups[3]!.members, 'u00020'];
  return { edited: ['u00001', 'u00002'], deactivated: 'u00003', removed: 'u00004', renamed: 'u00006' };
}
