import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startDevTarget, type DevTarget } from '../../src/devtarget/server.js';
import { workspace, type Workspace } from './harness.js';

/**
 * A strict local SCIM target for one test file, started once, emptied before
 * each test, with a fresh workspace whose config points at it. `use` receives
 * both before each test.
 */
export function useStrictTarget(token: string, use: (target: DevTarget, ws: Workspace) => void): void {
  let target: DevTarget;
  beforeAll(async () => {
    target = await startDevTarget({ token, strict: true });
  });
  afterAll(async () => {
    await target.stop();
  });
  beforeEach(() => {
    target.users.clear();
    target.groups.clear();
    target.requests.length = 0;
    const ws = workspace(target.url, token);
    ws.writeConfig();
    use(target, ws);
  });
}
