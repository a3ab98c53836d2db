import type { Random } from './random.js';

/**
 * The chaos source: a directory that changes between cycles the way real ones
 * do, and sometimes lies for one cycle. The model (`users`, `groups`) is the
 * truth; `snapshot()` is what the file source shows this cycle: the model, less
 * the rows in doubt and the users a shrunken export left out.
 */
export interface ChaosUser {
  id: string;
  userName: string;
  givenName: string;
  familyName: string;
  email: string;
  title: string;
  managerId?: string;
  active: boolean;
}

export interface ChaosGroup {
  id: string;
  displayName: string;
  members: string[];
}

export type SourceEventKind =
  | 'hire'
  | 'leave'
  | 'deactivate'
  | 'reactivate'
  | 'retitle'
  | 'join'
  | 'part'
  | 'new-team'
  | 'rehire'
  | 'swap-names'
  | 'case-flip'
  | 'manager-cycle'
  | 'fan-out'
  | 'group-vanishes'
  | 'rows-in-doubt'
  | 'shrink';

export interface SourceEvent {
  kind: SourceEventKind;
  /** What changed, for the campaign's log: `E100 left, E200 took ada@example.com`. */
  note: string;
}

export const SOURCE_EVENTS: readonly { kind: SourceEventKind; perCycle: number }[] = [
  { kind: 'hire', perCycle: 0.3 },
  { kind: 'leave', perCycle: 0.2 },
  { kind: 'deactivate', perCycle: 0.15 },
  { kind: 'reactivate', perCycle: 0.15 },
  { kind: 'retitle', perCycle: 0.3 },
  { kind: 'join', perCycle: 0.4 },
  { kind: 'part', perCycle: 0.3 },
  { kind: 'new-team', perCycle: 0.15 },
  { kind: 'rehire', perCycle: 0.1 },
  { kind: 'swap-names', perCycle: 0.05 },
  { kind: 'case-flip', perCycle: 0.1 },
  { kind: 'manager-cycle', perCycle: 0.05 },
  { kind: 'fan-out', perCycle: 0.01 },
  { kind: 'group-vanishes', perCycle: 0.05 },
  { kind: 'rows-in-doubt', perCycle: 0.1 },
  { kind: 'shrink', perCycle: 0.04 },
];

/** The file source's JSON. */
export interface DirectoryFile {
  users: Record<string, unknown>[];
  groups: ChaosGroup[];
}

export interface Snapshot {
  file: DirectoryFile;
  /** Users the model holds whose rows this snapshot leaves out or spoils: nobody may deprovision them now. */
  doubt: Set<string>;
}

export interface ChaosSourceOptions {
  users: number;
  /** How many groups the `fan-out` user joins at once. @default 500 */
  fanGroups?: number;
  /** The userName of a user the target protects (its account exists before the first cycle). */
  protectedUserName?: string;
}

const DOMAIN = 'example.com';

export class ChaosSource {
  readonly users = new Map<string, ChaosUser>();
  readonly groups = new Map<string, ChaosGroup>();
  /** The id of the protected user: in the source, never changed by the source. */
  readonly protectedId: string | undefined;
  #next = 100;
  #nextGroup = 1;
  #fanned = false;
  #vanished: ChaosGroup | undefined;
  #doubt: { ids: string[]; spoil: 'userName' | 'active' | 'control' } | undefined;
  #shrink = false;
  readonly #fanGroups: number;

  constructor(
    private readonly random: Random,
    options: ChaosSourceOptions,
  ) {
    this.#fanGroups = options.fanGroups ?? 500;
    for (let i = 0; i < options.users; i++) this.#hire();
    for (let g = 0; g < 4; g++) {
      const members = this.#active().filter(() => random.chance(0.4)).map((u) => u.id);
      this.#addGroup(`Team ${g + 1}`, members);
    }
    // Managers among those hired before: no reporting cycle but the `manager-cycle` event's.
    const active = this.#active();
    active.forEach((u, i) => {
      if (i > 0 && random.chance(0.4)) u.managerId = random.pick(active.slice(0, i)).id;
    });
    if (options.protectedUserName !== undefined) {
      const id = this.#hire().id;
      this.protectedId = id;
      const admin = this.users.get(id)!;
      admin.userName = options.protectedUserName;
      admin.email = options.protectedUserName;
    }
  }

  /** Users the source may change: every one but the protected one. */
  #changeable(): ChaosUser[] {
    return [...this.users.values()].filter((u) => u.id !== this.protectedId);
  }

  #active(): ChaosUser[] {
    return this.#changeable().filter((u) => u.active);
  }

  #hire(userName?: string): ChaosUser {
    const n = this.#next++;
    const id = `E${n}`;
    const user: ChaosUser = {
      id,
      userName: userName ?? `user${n}@${DOMAIN}`,
      givenName: `Given${n}`,
      familyName: `Family${n}`,
      email: userName ?? `user${n}@${DOMAIN}`,
      title: this.random.pick(['Engineer', 'Manager', 'Sales', 'Support']),
      active: true,
    };
    this.users.set(id, user);
    return user;
  }

  #addGroup(displayName: string, members: string[]): ChaosGroup {
    const group = { id: `G${this.#nextGroup++}`, displayName, members };
    this.groups.set(group.id, group);
    return group;
  }

  /** Takes a user out of every group, and out of being anyone's manager. */
  #detach(id: string): void {
    for (const g of this.groups.values()) g.members = g.members.filter((m) => m !== id);
    for (const u of this.users.values()) if (u.managerId === id) delete u.managerId;
  }

  /** Changes the directory for the next cycle, with events drawn among `allowed`. */
  evolve(allowed: readonly SourceEventKind[] = SOURCE_EVENTS.map((e) => e.kind)): SourceEvent[] {
    this.#doubt = undefined;
    this.#shrink = false;
    const events: SourceEvent[] = [];
    if (this.#vanished) {
      this.groups.set(this.#vanished.id, this.#vanished);
      events.push({ kind: 'group-vanishes', note: `group ${this.#vanished.displayName} is back` });
      this.#vanished = undefined;
    }
    for (const { kind, perCycle } of SOURCE_EVENTS) {
      if (!allowed.includes(kind) || !this.random.chance(perCycle)) continue;
      const note = this.apply(kind);
      if (note !== undefined) events.push({ kind, note });
    }
    return events;
  }

  /** Applies one event now; undefined when the directory has nobody it fits. */
  apply(kind: SourceEventKind): string | undefined {
    const r = this.random;
    const active = this.#active();
    const inactive = this.#changeable().filter((u) => !u.active);
    const groups = [...this.groups.values()].filter((g) => !g.displayName.startsWith('Fan '));
    switch (kind) {
      case 'hire': {
        const u = this.#hire();
        if (groups.length > 0) r.pick(groups).members.push(u.id);
        return `${u.id} hired as ${u.userName}`;
      }
      case 'leave': {
        if (active.length < 4) return undefined;
        const u = r.pick(active);
        this.#detach(u.id);
        this.users.delete(u.id);
        return `${u.id} (${u.userName}) left`;
      }
      case 'deactivate': {
        if (active.length < 4) return undefined;
        const u = r.pick(active);
        this.#detach(u.id);
        u.active = false;
        return `${u.id} deactivated`;
      }
      case 'reactivate': {
        if (inactive.length === 0) return undefined;
        const u = r.pick(inactive);
        u.active = true;
        if (groups.length > 0) r.pick(groups).members.push(u.id);
        return `${u.id} reactivated`;
      }
      case 'retitle': {
        if (active.length === 0) return undefined;
        const u = r.pick(active);
        u.title = r.pick(['Engineer', 'Manager', 'Sales', 'Support', 'Director']);
        u.familyName = `${u.familyName.replace(/-\d+$/, '')}-${r.int(1, 99)}`;
        return `${u.id} now ${u.title} ${u.familyName}`;
      }
      case 'join': {
        const g = groups.length > 0 ? r.pick(groups) : undefined;
        const candidates = active.filter((u) => g && !g.members.includes(u.id));
        if (!g || candidates.length === 0) return undefined;
        const u = r.pick(candidates);
        g.members.push(u.id);
        return `${u.id} joined ${g.displayName}`;
      }
      case 'part': {
        const g = groups.filter((x) => x.members.length > 0);
        if (g.length === 0) return undefined;
        const group = r.pick(g);
        const id = r.pick(group.members);
        group.members = group.members.filter((m) => m !== id);
        return `${id} left ${group.displayName}`;
      }
      case 'new-team': {
        // A team hired together: a new group whose members are all new users.
        const hires = Array.from({ length: r.int(2, 4) }, () => this.#hire());
        const g = this.#addGroup(`Team ${this.#nextGroup}`, hires.map((u) => u.id));
        return `${g.displayName} formed with new hires ${hires.map((u) => u.id).join(', ')}`;
      }
      case 'rehire': {
        // The leaver and the new hire with the leaver's userName arrive in one snapshot.
        if (active.length < 4) return undefined;
        const old = r.pick(active);
        this.#detach(old.id);
        if (r.chance(0.5)) this.users.delete(old.id);
        else old.active = false;
        const hired = this.#hire(old.userName);
        if (groups.length > 0) r.pick(groups).members.push(hired.id);
        return `${old.id} left, ${hired.id} hired with the same userName ${hired.userName}`;
      }
      case 'swap-names': {
        if (active.length < 2) return undefined;
        const a = r.pick(active);
        const b = r.pick(active.filter((u) => u.id !== a.id));
        [a.userName, b.userName] = [b.userName, a.userName];
        [a.email, b.email] = [b.email, a.email];
        return `${a.id} and ${b.id} swapped userNames`;
      }
      case 'case-flip': {
        if (active.length === 0) return undefined;
        const u = r.pick(active);
        const [local, domain] = u.userName.split('@') as [string, string];
        const flipped = local === local.toLowerCase() ? local[0]!.toUpperCase() + local.slice(1) : local.toLowerCase();
        u.userName = `${flipped}@${domain}`;
        return `${u.id} is now ${u.userName}`;
      }
      case 'manager-cycle': {
        if (active.length < 2) return undefined;
        const a = r.pick(active);
        const b = r.pick(active.filter((u) => u.id !== a.id));
        a.managerId = b.id;
        b.managerId = a.id;
        return `${a.id} and ${b.id} manage each other`;
      }
      case 'fan-out': {
        if (this.#fanned || active.length === 0) return undefined;
        this.#fanned = true;
        const u = r.pick(active);
        for (let i = 1; i <= this.#fanGroups; i++) this.#addGroup(`Fan ${i}`, [u.id]);
        return `${u.id} joined ${this.#fanGroups} new groups`;
      }
      case 'group-vanishes': {
        if (this.#vanished || groups.length === 0) return undefined;
        const g = r.pick(groups);
        this.groups.delete(g.id);
        this.#vanished = g;
        return `group ${g.displayName} is gone (for one cycle)`;
      }
      case 'rows-in-doubt': {
        if (active.length === 0) return undefined;
        const ids = [...new Set(Array.from({ length: r.int(1, 3) }, () => r.pick(active).id))];
        this.#doubt = { ids, spoil: r.pick(['userName', 'active', 'control'] as const) };
        return `rows of ${ids.join(', ')} spoiled (${this.#doubt.spoil}) for one cycle`;
      }
      case 'shrink': {
        this.#shrink = true;
        return 'the export holds half of the users, for one cycle';
      }
    }
  }

  #row(u: ChaosUser): Record<string, unknown> {
    return { id: u.id, userName: u.userName, givenName: u.givenName, familyName: u.familyName, email: u.email, title: u.title, ...(u.managerId ? { managerId: u.managerId } : {}), active: u.active };
  }

  /** What the source shows this cycle; `clean` shows the model whole, whatever this cycle spoils. */
  snapshot(shape: 'as-drawn' | 'clean' = 'as-drawn'): Snapshot {
    const doubt = new Set<string>();
    const all = [...this.users.values()];
    let shown = all;
    if (shape === 'as-drawn' && this.#shrink) {
      shown = all.filter((_, i) => i % 2 === 0);
      for (const u of all) if (!shown.includes(u)) doubt.add(u.id);
    }
    const spoil = shape === 'as-drawn' ? this.#doubt : undefined;
    const users = shown.map((u) => {
      const row = this.#row(u);
      if (!spoil?.ids.includes(u.id)) return row;
      doubt.add(u.id);
      if (spoil.spoil === 'userName') return { ...row, userName: '' };
      if (spoil.spoil === 'active') return { ...row, active: 'maybe' };
      return { ...row, userName: `${u.userName}\u0007` };
    });
    const visible = new Set(shown.map((u) => u.id));
    const groups = [...this.groups.values()].map((g) => ({ ...g, members: g.members.filter((m) => visible.has(m)) }));
    return { file: { users, groups }, doubt };
  }
}
