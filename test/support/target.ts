import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { startDevTarget, type DevTarget, type DevTargetOptions } from './devtarget/server.js';
import { workspace, type Directory, type Workspace } from './harness.js';

/**
 * A strict local SCIM target for one test file, started once, emptied (and its
 * faults cleared) before each test, with a fresh workspace whose config points at it. `use` receives
 * both before each test.
 */
export function useStrictTarget(token: string, use: (target: DevTarget, ws: Workspace) => void, options: { seed?: number } = {}): void {
  let target: DevTarget;
  beforeAll(async () => {
    target = await startDevTarget({ token, strict: true, ...options });
  });
  afterAll(async () => {
    await target.stop();
  });
  beforeEach(() => {
    target.users.clear();
    target.groups.clear();
    target.clearFaults();
    target.requests.length = 0;
    const ws = workspace(target.url, token);
    ws.writeConfig();
    use(target, ws);
  });
}

/**
 * A strict local SCIM target per test, for tests that need one made their way: the returned function
 * starts it (with `target` options) and a workspace whose config points at it (with `targetYaml`);
 * it is stopped after the test.
 */
export function useTargetPerTest(token: string): (options?: { target?: Partial<DevTargetOptions>; targetYaml?: string }) => Promise<{ t: DevTarget; ws: Workspace }> {
  let target: DevTarget | undefined;
  afterEach(async () => {
    await target?.stop();
    target = undefined;
  });
  return async ({ target: targetOptions = {}, targetYaml } = {}) => {
    const t = (target = await startDevTarget({ token, strict: true, ...targetOptions }));
    const ws = workspace(t.url, token);
    ws.writeConfig(targetYaml ? { targetYaml } : {});
    return { t, ws };
  };
}

/** Each group as the target holds it, by display name: its members' source ids (externalIds), sorted, duplicates kept; a value that is no account is kept as it is. */
export function groupsInTarget(t: DevTarget): Record<string, string[]> {
  const sourceOf = new Map([...t.users.values()].map((u) => [u.id, String(u.externalId)]));
  const out: Record<string, string[]> = {};
  for (const g of t.groups.values()) {
    out[String(g.displayName)] = ((g.members ?? []) as { value: string }[]).map((m) => sourceOf.get(m.value) ?? m.value).sort();
  }
  return out;
}

/** Each group of the directory, by display name: its members' ids, sorted. */
export function groupsInSource(d: Directory): Record<string, string[]> {
  return Object.fromEntries(d.groups!.map((g) => [g.displayName, [...g.members].sort()]));
}
