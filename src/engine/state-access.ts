/**
 * How the CLI and the daemon reach the state: they open it here, from the
 * config, and hold it by the StateStore interface; the store behind it
 * (state/index.ts) is the engine's business.
 */
import type { Config } from '../config/schema.js';
import { openStateStore, type StateStore } from '../../state/index.js';

export type { StateStore } from '../../state/index.js';

/** Opens (or creates) the state the config names; a file that cannot be a state is a StateFileError. */
export function openState(config: Pick<Config, 'state'>): StateStore {
  return openStateStore(config.state.path);
}
