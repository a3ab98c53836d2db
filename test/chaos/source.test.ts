import { describe, expect, it } from 'vitest';
import { Random } from './random.js';
import { ChaosSource, SOURCE_EVENTS, type SourceEventKind } from './source.js';

/** Every event of the chaos source changes the directory as it says (or spoils the snapshot for one cycle). */
const fresh = (seed = 5) => new ChaosSource(new Random(seed), { users: 12, fanGroups: 20, protectedUserName: 'admin@example.com' });
const activeIds = (s: ChaosSource) => [...s.users.values()].filter((u) => u.active).map((u) => u.id);

const checks: Record<SourceEventKind, (s: ChaosSource) => void> = {
  hire: (s) => {
    const before = s.users.size;
    s.apply('hire');
    expect(s.users.size).toBe(before + 1);
  },
  leave: (s) => {
    const before = new Set(s.users.keys());
    s.apply('leave');
    const gone = [...before].filter((id) => !s.users.has(id));
    expect(gone).toHaveLength(1);
    for (const g of s.groups.values()) expect(g.members).not.toContain(gone[0]);
    for (const u of s.users.values()) expect(u.managerId).not.toBe(gone[0]);
  },
  deactivate: (s) => {
    const before = activeIds(s).length;
    s.apply('deactivate');
    expect(activeIds(s).length).toBe(before - 1);
  },
  reactivate: (s) => {
    s.apply('deactivate');
    const before = activeIds(s).length;
    s.apply('reactivate');
    expect(activeIds(s).length).toBe(before + 1);
  },
  retitle: (s) => {
    const before = JSON.stringify([...s.users.values()]);
    s.apply('retitle');
    expect(JSON.stringify([...s.users.values()])).not.toBe(before);
  },
  join: (s) => {
    const before = [...s.groups.values()].reduce((n, g) => n + g.members.length, 0);
    s.apply('join');
    expect([...s.groups.values()].reduce((n, g) => n + g.members.length, 0)).toBe(before + 1);
  },
  part: (s) => {
    const before = [...s.groups.values()].reduce((n, g) => n + g.members.length, 0);
    s.apply('part');
    expect([...s.groups.values()].reduce((n, g) => n + g.members.length, 0)).toBe(before - 1);
  },
  'new-team': (s) => {
    const before = new Set(s.users.keys());
    s.apply('new-team');
    const team = [...s.groups.values()].at(-1)!;
    expect(team.members.length).toBeGreaterThanOrEqual(2);
    for (const m of team.members) expect(before.has(m)).toBe(false);
  },
  rehire: (s) => {
    const before = new Map([...s.users].map(([id, u]) => [id, { ...u }]));
    s.apply('rehire');
    const hired = [...s.users.values()].find((u) => !before.has(u.id))!;
    const leaver = [...before.values()].find((u) => u.userName === hired.userName && u.id !== hired.id)!;
    expect(leaver).toBeDefined();
    expect(s.users.get(leaver.id)?.active ?? false).toBe(false);
    expect(hired.active).toBe(true);
  },
  'swap-names': (s) => {
    const names = new Map([...s.users].map(([id, u]) => [id, u.userName]));
    s.apply('swap-names');
    const changed = [...s.users.values()].filter((u) => names.get(u.id) !== u.userName);
    expect(changed).toHaveLength(2);
    expect(changed[0]!.userName).toBe(names.get(changed[1]!.id));
  },
  'case-flip': (s) => {
    const names = new Map([...s.users].map(([id, u]) => [id, u.userName]));
    s.apply('case-flip');
    const changed = [...s.users.values()].filter((u) => names.get(u.id) !== u.userName);
    expect(changed).toHaveLength(1);
    expect(changed[0]!.userName.toLowerCase()).toBe(names.get(changed[0]!.id)!.toLowerCase());
  },
  'manager-cycle': (s) => {
    s.apply('manager-cycle');
    const cycle = [...s.users.values()].filter((u) => u.managerId !== undefined && s.users.get(u.managerId)?.managerId === u.id);
    expect(cycle).toHaveLength(2);
  },
  'fan-out': (s) => {
    s.apply('fan-out');
    const fans = [...s.groups.values()].filter((g) => g.displayName.startsWith('Fan '));
    expect(fans).toHaveLength(20);
    expect(new Set(fans.flatMap((g) => g.members)).size).toBe(1);
  },
  'group-vanishes': (s) => {
    const names = [...s.groups.values()].map((g) => g.displayName);
    s.apply('group-vanishes');
    expect(s.groups.size).toBe(names.length - 1);
    s.evolve([]);
    expect([...s.groups.values()].map((g) => g.displayName).sort()).toEqual(names.sort());
  },
  'rows-in-doubt': (s) => {
    s.apply('rows-in-doubt');
    const shown = s.snapshot();
    expect(shown.doubt.size).toBeGreaterThan(0);
    for (const id of shown.doubt) {
      const row = shown.file.users.find((u) => u.id === id)!;
      const u = s.users.get(id)!;
      expect(row.userName === '' || row.active === 'maybe' || String(row.userName).includes('\u0007')).toBe(true);
      expect(u.userName).not.toContain('\u0007');
    }
    expect(s.snapshot('clean').doubt.size).toBe(0);
    s.evolve([]);
    expect(s.snapshot().doubt.size).toBe(0);
  },
  shrink: (s) => {
    s.apply('shrink');
    const shown = s.snapshot();
    expect(shown.file.users.length).toBe(Math.ceil(s.users.size / 2));
    expect(shown.doubt.size).toBe(s.users.size - shown.file.users.length);
    expect(s.snapshot('clean').file.users.length).toBe(s.users.size);
  },
};

describe('the chaos source', () => {
  it('has a check for every event', () => {
    expect(Object.keys(checks).sort()).toEqual(SOURCE_EVENTS.map((e) => e.kind).sort());
  });

  it.each(SOURCE_EVENTS.map((e) => e.kind))('%s', (kind) => {
    checks[kind](fresh());
  });

  it('never changes the protected user', () => {
    const s = fresh();
    const admin = JSON.stringify(s.users.get(s.protectedId!));
    for (let i = 0; i < 200; i++) s.evolve();
    expect(JSON.stringify(s.users.get(s.protectedId!))).toBe(admin);
  });

  it('the same seed draws the same directory', () => {
    const a = fresh(9);
    const b = fresh(9);
    for (let i = 0; i < 30; i++) expect(a.evolve()).toEqual(b.evolve());
    expect(a.snapshot()).toEqual(b.snapshot());
  });
});
