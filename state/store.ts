/**
 * Where callers found the state store before state/ had an interface: the
 * StateStore interface (state/interface.ts) and its records, and
 * `StateStore.open(path)`, which opens the SQLite store. Callers move to
 * `openStateStore` and the types of state/index.ts; this file then goes.
 */
import type Database from 'better-sqlite3';
import type { StateStore as Store } from './interface.js';
import { SqliteStateStore } from './sqlite/index.js';

export type {
  CycleCounts,
  CycleEvents,
  CycleOutcome,
  CycleRecord,
  EscrowEntry,
  EscrowOperation,
  EventQuery,
  EventsPageQuery,
  GroupRecord,
  HeldObject,
  HeldPlan,
  InflightEntry,
  InflightOperation,
  IntegrationRecord,
  MemberChange,
  NewHeldPlan,
  ObjectCounts,
  OperationFailure,
  PurgeResult,
  Quarantine,
  QuarantineLift,
  StoredObject,
  UserNames,
} from './interface.js';

/** The StateStore as callers used it before the interface, with the SQLite connection they still reach. */
export interface StateStore extends Store {
  /** @deprecated SQLite only: use `transaction()` and `leaseHolder()`. Goes with this file. */
  readonly db: Database.Database;
}

export const StateStore = {
  /** Opens (or creates) the SQLite state at `path`; a file that cannot be a state is a StateFileError. */
  open(path: string): StateStore {
    return SqliteStateStore.open(path);
  },
};
