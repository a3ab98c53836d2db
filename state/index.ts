/**
 * The state: the StateStore interface and its records (interface.ts), and the
 * stores that implement it: SQLite (sqlite/), the default.
 */
import type { StateStore } from './interface.js';
import { SqliteStateStore } from './sqlite/index.js';

export type * from './interface.js';
export { SqliteStateStore } from './sqlite/index.js';

/** Opens (or creates) the state at `path`: a SQLite file. A file that cannot be a state is a StateFileError. */
export function openStateStore(path: string): StateStore {
  return SqliteStateStore.open(path);
}
