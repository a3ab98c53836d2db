import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Workspace } from './harness.js';

/** One value `reconcile --json` reports as differing from what was pushed. */
export interface DriftItem {
  sourceId: string;
  path: string;
  pushed: string | null;
  actual: string | null;
}

/** What `scimsync reconcile --json` reports as drift (the command must succeed). */
export async function driftOf(ws: Workspace): Promise<DriftItem[]> {
  const res = await ws.run(['reconcile', '--json']);
  expect(res.code).toBe(0);
  return (JSON.parse(res.out[0]!) as { drift: DriftItem[] }).drift;
}

/** The state file lost, as `state rebuild` is for: the database and its WAL files removed. */
export function deleteState(ws: Workspace): void {
  for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) rmSync(join(ws.dir, f), { force: true });
}
