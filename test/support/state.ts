import { join } from 'node:path';
import { afterEach } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { ConsoleBackend } from '../../src/engine/console-api.js';
import { createEngineConsoleBackend, type EngineConsoleBackendOptions } from '../../src/engine/console-backend.js';
import { createLogger, type Logger } from '../../src/log.js';
import { openStateStore, type StateStore } from '../../state/index.js';
import type { Workspace } from './harness.js';

/** A workspace as the daemon holds it: its config loaded, its state open, a silent logger. */
export interface WorkspaceState {
  config: Config;
  store: StateStore;
  logger: Logger;
}

/**
 * Opens a workspace's state as the daemon does, with `token` as TEST_TOKEN; every store it opened is
 * closed after each test, so that the next test's workspace starts from a closed file.
 */
export function useWorkspaceState(token: string): (ws: Workspace) => WorkspaceState {
  const open: StateStore[] = [];
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  return (ws) => {
    const { config } = loadConfig(ws.configPath, { TEST_TOKEN: token });
    const store = openStateStore(config.state.path);
    open.push(store);
    return { config, store, logger: createLogger({ level: 'error', format: 'json', silent: true }) };
  };
}

/** The console's backend over an opened workspace, as the daemon builds it. */
export function engineBackend(state: WorkspaceState, options: Partial<Omit<EngineConsoleBackendOptions, 'config' | 'store' | 'logger'>> = {}): ConsoleBackend {
  return createEngineConsoleBackend({ config: () => state.config, store: state.store, logger: state.logger, ...options });
}

/** `read` over the workspace's state file, opened for it and closed after. */
export function withState<T>(ws: Workspace, read: (store: StateStore) => T): T {
  const store = openStateStore(join(ws.dir, 'state.db'));
  try {
    return read(store);
  } finally {
    store.close();
  }
}
