import type { StoredResource } from '../support/devtarget/server.js';
import type { ChaosGroup, ChaosUser } from './source.js';
import type { StateView } from './state.js';

/**
 * The invariants every cycle keeps (docs/INVARIANTS.md), checked by one function
 * that reads the target, the state and what the run said. Each returns the
 * violations it found, with what a person would look at to see them.
 */
export type InvariantName =
  | 'one-link-per-account'
  | 'links-name-their-account'
  | 'one-account-per-user'
  | 'converged'
  | 'protected-untouched'
  | 'bounded'
  | 'exit-agrees'
  | 'forwarded-in-order'
  | 'no-deprovision-in-doubt';

export interface Violation {
  invariant: InvariantName;
  message: string;
}

export interface TargetView {
  users: StoredResource[];
  groups: StoredResource[];
}

/** What the target should hold, from the chaos source's own model (not from the engine). */
export interface DesiredView {
  /** Users of the source, the protected one left out. */
  users: ChaosUser[];
  groups: ChaosGroup[];
  /** Users once in a snapshot and gone from the source since: their accounts must be inactive. */
  goneUsers: string[];
  /** Groups once in a snapshot and gone since: their target groups must be gone. */
  goneGroups: string[];
}

export interface RunResult {
  /** The exit code, null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  stdout: string;
  stderr: string;
  /** The signal the harness sent, and when (ms after the start). */
  sent?: { signal: 'SIGKILL' | 'SIGTERM'; atMs: number };
  /** The run outlived its bound and was killed. */
  timedOut: boolean;
}

export interface CycleFacts {
  /** `chaos`: a cycle with faults; `clean`: the cycle with faults off that follows. */
  phase: 'chaos' | 'clean';
  target: TargetView;
  /** The target before the run. */
  before: TargetView;
  state: StateView;
  desired: DesiredView;
  /** Users whose rows this cycle's snapshot left out or spoiled. */
  doubt: ReadonlySet<string>;
  /** The protected accounts as they were before the first cycle. */
  protectedAccounts: StoredResource[];
  run: RunResult;
  boundMs: number;
  graceMs: number;
  /** Event ids the forward sink received, in arrival order (re-sends included). */
  forwarded: number[];
}

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
/** A process needs this long past the grace to exit after SIGTERM (closing the state, a loaded machine). */
export const EXIT_MARGIN_MS = 5000;

const lower = (v: unknown) => String(v ?? '').toLowerCase();
const externalIdOf = (u: StoredResource) => (typeof u.externalId === 'string' ? u.externalId : undefined);

function workEmail(u: StoredResource): string | undefined {
  const emails = Array.isArray(u.emails) ? (u.emails as { value?: unknown; type?: unknown }[]) : [];
  const email = emails.find((e) => e.type === 'work') ?? emails[0];
  return email?.value === undefined ? undefined : String(email.value);
}

function managerOf(u: StoredResource): string | undefined {
  const ext = u[ENTERPRISE] as { manager?: { value?: unknown } } | undefined;
  const value = ext?.manager?.value ?? (u as { manager?: { value?: unknown } }).manager?.value;
  return value === undefined || value === null || value === '' ? undefined : String(value);
}

function membersOf(g: StoredResource): string[] {
  return (Array.isArray(g.members) ? (g.members as { value?: unknown }[]) : []).map((m) => String(m.value));
}

/** No target account is linked to two source users (nor a target group to two source groups). */
export function oneLinkPerAccount(state: StateView): Violation[] {
  const out: Violation[] = [];
  for (const kind of ['user', 'group'] as const) {
    const by = new Map<string, string[]>();
    for (const l of state.links) {
      if (l.kind !== kind || l.targetId === null || l.status === 'deleted') continue;
      by.set(l.targetId, [...(by.get(l.targetId) ?? []), l.sourceId]);
    }
    for (const [targetId, sources] of by) {
      if (sources.length > 1) out.push({ invariant: 'one-link-per-account', message: `${kind} ${targetId} is linked to ${sources.join(' and ')}` });
    }
  }
  return out;
}

/**
 * A link names the account that carries that user's externalId: not another user's. After a
 * run the harness stopped, a write in flight (an adoption applied, its result not committed)
 * may leave the state behind the target for the users it concerns: those are judged after the
 * next cycle, which reads what is in flight back first.
 */
export function linksNameTheirAccount(state: StateView, target: TargetView, run?: RunResult): Violation[] {
  const accounts = new Map(target.users.map((u) => [u.id, u]));
  const pending = new Set(run?.sent ? (state.inflight ?? []) : []);
  const out: Violation[] = [];
  for (const l of state.links) {
    if (l.kind !== 'user' || l.targetId === null || l.status === 'deleted') continue;
    const account = accounts.get(l.targetId);
    const externalId = account ? externalIdOf(account) : undefined;
    if (externalId !== undefined && (pending.has(externalId) || pending.has(l.sourceId))) continue;
    if (account && externalId !== undefined && externalId !== l.sourceId) {
      out.push({ invariant: 'links-name-their-account', message: `${l.sourceId} is linked to ${l.targetId}, which is ${externalId}'s account (${String(account.userName)})` });
    }
  }
  return out;
}

/** No source user has two accounts. */
export function oneAccountPerUser(target: TargetView): Violation[] {
  const by = new Map<string, string[]>();
  for (const u of target.users) {
    const externalId = externalIdOf(u);
    if (externalId !== undefined) by.set(externalId, [...(by.get(externalId) ?? []), u.id]);
  }
  return [...by]
    .filter(([, ids]) => ids.length > 1)
    .map(([externalId, ids]) => ({ invariant: 'one-account-per-user' as const, message: `${externalId} has ${ids.length} accounts: ${ids.join(', ')}` }));
}

/** Whether `id`'s chain of managers leads back to it. */
function inCycle(id: string, users: ChaosUser[]): boolean {
  const managerOfId = new Map(users.map((u) => [u.id, u.managerId]));
  let at = managerOfId.get(id);
  for (let steps = 0; at !== undefined && steps <= users.length; steps++) {
    if (at === id) return true;
    at = managerOfId.get(at);
  }
  return false;
}

/**
 * Active users whose userName (without case) another active user has too: the target
 * holds one account per userName, so the one whose account it is keeps it and the
 * engine holds the others (a reactivated leaver whose userName a rehire took). The
 * held ids, once one of them holds an account; a message when several do (none: each
 * lacks its account).
 */
function nameClashes(users: readonly ChaosUser[], accountsOf: ReadonlyMap<string, StoredResource[]>): { held: Set<string>; wrong: string[] } {
  const byName = new Map<string, ChaosUser[]>();
  for (const u of users) if (u.active) byName.set(lower(u.userName), [...(byName.get(lower(u.userName)) ?? []), u]);
  const held = new Set<string>();
  const wrong: string[] = [];
  for (const [name, sharing] of byName) {
    if (sharing.length < 2) continue;
    const holders = sharing.filter((u) => (accountsOf.get(u.id) ?? []).length > 0);
    if (holders.length === 1) {
      for (const u of sharing) if (u !== holders[0]) held.add(u.id);
    } else if (holders.length > 1) {
      wrong.push(`${name} is the userName of ${sharing.map((u) => u.id).join(' and ')}, all active in the source: ${holders.length} of them hold an account, not one`);
    }
  }
  return { held, wrong };
}

/**
 * The target holds the desired state for every managed user, group and membership:
 * each active user one active account with its attributes, each manager and member
 * value naming that user's account, nothing else. Of active users sharing a userName,
 * one holds its account and the others none (nameClashes).
 */
export function differences(target: TargetView, desired: DesiredView, before?: TargetView): string[] {
  const out: string[] = [];
  const accountsOf = new Map<string, StoredResource[]>();
  for (const u of target.users) {
    const externalId = externalIdOf(u);
    if (externalId !== undefined) accountsOf.set(externalId, [...(accountsOf.get(externalId) ?? []), u]);
  }
  const accountId = (sourceId: string) => accountsOf.get(sourceId)?.[0]?.id;
  const clashes = nameClashes(desired.users, accountsOf);
  out.push(...clashes.wrong);
  for (const u of desired.users) {
    if (clashes.held.has(u.id)) continue;
    const accounts = accountsOf.get(u.id) ?? [];
    if (!u.active) {
      for (const a of accounts) if (a.active !== false) out.push(`${u.id} is inactive in the source, its account ${a.id} is active`);
      continue;
    }
    if (accounts.length !== 1) {
      out.push(`${u.id} (${u.userName}) has ${accounts.length} accounts`);
      continue;
    }
    const a = accounts[0]!;
    const name = (a.name ?? {}) as { givenName?: unknown; familyName?: unknown };
    const wrong = [
      a.active !== true ? `active ${String(a.active)}` : '',
      lower(a.userName) !== lower(u.userName) ? `userName ${String(a.userName)} (not ${u.userName})` : '',
      name.givenName !== u.givenName ? `givenName ${String(name.givenName)} (not ${u.givenName})` : '',
      name.familyName !== u.familyName ? `familyName ${String(name.familyName)} (not ${u.familyName})` : '',
      lower(workEmail(a)) !== lower(u.email) ? `email ${String(workEmail(a))} (not ${u.email})` : '',
      a.title !== u.title ? `title ${String(a.title)} (not ${u.title})` : '',
    ].filter(Boolean);
    const manager = managerOf(a);
    const wanted = u.managerId === undefined ? undefined : accountId(u.managerId);
    // A reporting cycle among users created in this run is cut, its reference sent next cycle (plan-users.ts).
    const cut = manager === undefined && before !== undefined && !before.users.some((b) => b.id === a.id) && inCycle(u.id, desired.users);
    if (manager !== wanted && !cut) wrong.push(`manager ${String(manager)} (not ${String(wanted)}, the account of ${String(u.managerId)})`);
    if (wrong.length > 0) out.push(`${u.id}'s account ${a.id}: ${wrong.join(', ')}`);
  }
  for (const id of desired.goneUsers) {
    for (const a of accountsOf.get(id) ?? []) if (a.active !== false) out.push(`${id} left the source, its account ${a.id} is active`);
  }
  const accounts = new Set(target.users.map((u) => u.id));
  for (const g of desired.groups) {
    const found = target.groups.filter((t) => t.displayName === g.displayName);
    if (found.length !== 1) {
      out.push(`group ${g.displayName} is in the target ${found.length} times`);
      continue;
    }
    const members = membersOf(found[0]!);
    const garbage = members.filter((m) => !accounts.has(m));
    if (garbage.length > 0) out.push(`group ${g.displayName} holds values that name no account: ${garbage.join(', ')}`);
    if (new Set(members).size !== members.length) out.push(`group ${g.displayName} holds a member twice`);
    const want = new Set(g.members.filter((m) => !clashes.held.has(m)).map((m) => accountId(m) ?? `(no account for ${m})`));
    const have = new Set(members);
    const missing = [...want].filter((m) => !have.has(m));
    const extra = [...have].filter((m) => !want.has(m) && accounts.has(m));
    if (missing.length > 0) out.push(`group ${g.displayName} lacks ${missing.join(', ')}`);
    if (extra.length > 0) out.push(`group ${g.displayName} holds ${extra.join(', ')}, not a member in the source`);
  }
  for (const name of desired.goneGroups) {
    if (target.groups.some((t) => t.displayName === name)) out.push(`group ${name} left the source and is still in the target`);
  }
  return out;
}

export function converged(target: TargetView, desired: DesiredView, before?: TargetView): Violation[] {
  return differences(target, desired, before).map((message) => ({ invariant: 'converged', message }));
}

/** The protected accounts are as they were before the first cycle. */
export function protectedUntouched(target: TargetView, protectedAccounts: StoredResource[]): Violation[] {
  const now = new Map(target.users.map((u) => [u.id, u]));
  const strip = (u: StoredResource | undefined) => (u === undefined ? 'gone' : JSON.stringify({ ...u, meta: undefined }));
  return protectedAccounts
    .filter((p) => strip(now.get(p.id)) !== strip(p))
    .map((p) => ({ invariant: 'protected-untouched' as const, message: `protected account ${String(p.userName)} changed: ${strip(p)} → ${strip(now.get(p.id))}` }));
}

/** The run ended within its bound; after SIGTERM, within the grace. */
export function bounded(run: RunResult, boundMs: number, graceMs: number): Violation[] {
  if (run.timedOut) return [{ invariant: 'bounded', message: `the cycle did not end within its bound of ${Math.round(boundMs / 1000)}s (killed)` }];
  if (run.sent?.signal === 'SIGTERM' && run.durationMs - run.sent.atMs > graceMs + EXIT_MARGIN_MS) {
    return [{ invariant: 'bounded', message: `SIGTERM took ${run.durationMs - run.sent.atMs}ms to end the run, past the grace of ${graceMs}ms` }];
  }
  return [];
}

/** The outcome in the summary line, e.g. `success` of `[integration chaos] success: created 3, …`. */
export function summaryOutcome(stdout: string): { outcome: string; failed: number } | undefined {
  const m = /\[integration [^\]]+\] (\w+): .*?failed (\d+)/.exec(stdout);
  return m ? { outcome: m[1]!, failed: Number(m[2]) } : undefined;
}

/**
 * Exit 0 and a summary of success only when the target holds what was asked:
 * "success" never hides an unfinished group. Checked on runs that ended by
 * themselves, from a snapshot with nothing in doubt.
 */
export function exitAgrees(f: Pick<CycleFacts, 'run' | 'target' | 'desired' | 'doubt' | 'before'>): Violation[] {
  const { run } = f;
  if (run.code === null || run.sent || run.timedOut) return [];
  const summary = summaryOutcome(run.stdout);
  const out: Violation[] = [];
  if (run.code === 0 && summary && (summary.outcome !== 'success' || summary.failed > 0)) {
    out.push({ invariant: 'exit-agrees', message: `exit 0 with a summary of ${summary.outcome}, failed ${summary.failed}` });
  }
  if (summary?.outcome === 'success' && run.code !== 0) out.push({ invariant: 'exit-agrees', message: `a summary of success with exit ${run.code}` });
  if (run.code === 0 && f.doubt.size === 0) {
    for (const d of differences(f.target, f.desired, f.before)) out.push({ invariant: 'exit-agrees', message: `exit 0, yet ${d}` });
  }
  return out;
}

/**
 * Every event id reaches the forward sink, in order, with no gap (re-sends are
 * allowed: at least once). Checked after runs that ended by themselves.
 */
export function forwardedInOrder(run: RunResult, eventIds: number[], forwarded: number[]): Violation[] {
  if (run.code === null || run.sent || run.timedOut) return [];
  const seen = new Set<number>();
  const first: number[] = [];
  for (const id of forwarded) {
    if (seen.has(id)) continue;
    seen.add(id);
    first.push(id);
  }
  for (let i = 1; i < first.length; i++) {
    if (first[i]! < first[i - 1]!) return [{ invariant: 'forwarded-in-order', message: `event ${first[i]} reached the sink after ${first[i - 1]}` }];
  }
  const missing = eventIds.filter((id) => !seen.has(id));
  if (missing.length > 0) {
    return [{ invariant: 'forwarded-in-order', message: `${missing.length} events never reached the sink (first ${missing[0]}, of ${eventIds.length})` }];
  }
  return [];
}

/** A user whose row this snapshot left out or spoiled keeps an active account active. */
export function noDeprovisionInDoubt(before: TargetView, after: TargetView, doubt: ReadonlySet<string>, desired: DesiredView): Violation[] {
  const activeInSource = new Set(desired.users.filter((u) => u.active).map((u) => u.id));
  const now = new Map(after.users.map((u) => [u.id, u]));
  const out: Violation[] = [];
  for (const u of before.users) {
    const externalId = externalIdOf(u);
    if (externalId === undefined || !doubt.has(externalId) || !activeInSource.has(externalId) || u.active !== true) continue;
    const later = now.get(u.id);
    if (later?.active !== true) {
      out.push({ invariant: 'no-deprovision-in-doubt', message: `${externalId}'s account ${u.id} was ${later ? 'deactivated' : 'deleted'} while its row was in doubt` });
    }
  }
  return out;
}

/** Every invariant of a cycle; the clean phase adds convergence. */
export function checkInvariants(f: CycleFacts): Violation[] {
  return [
    ...bounded(f.run, f.boundMs, f.graceMs),
    ...oneLinkPerAccount(f.state),
    ...linksNameTheirAccount(f.state, f.target, f.run),
    ...oneAccountPerUser(f.target),
    ...protectedUntouched(f.target, f.protectedAccounts),
    ...noDeprovisionInDoubt(f.before, f.target, f.doubt, f.desired),
    ...forwardedInOrder(f.run, f.state.eventIds, f.forwarded),
    ...exitAgrees(f),
    ...(f.phase === 'clean' ? converged(f.target, f.desired, f.before) : []),
  ];
}
