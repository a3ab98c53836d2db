import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startDevTarget, type DevTarget } from './devtarget/server.js';
import { workspace, type Workspace } from './harness.js';

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
