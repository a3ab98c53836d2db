/** What the StateStore contract suites share: a fresh state per test, and the records they write. */
import type { StateUser } from '../../src/core/records.js';
import type { NewEvent } from '../../src/events/types.js';
import type { StateStore } from '../../state/index.js';

/**
 * Opens the store at `location`: a fresh file path for each test, opened again for a
 * second connection to the same state. A store that is not a file derives its
 * database from it.
 */
export type OpenStateStore = (location: string) => StateStore;

/** A store on a fresh state, and how to open a second connection to the same state. */
export interface FreshState {
  store: StateStore;
  location: string;
  another(): StateStore;
}

export type Fresh = () => FreshState;

export const user = (id: string, extra: Record<string, unknown> = {}): StateUser => ({
  sourceId: id,
  targetId: `t-${id}`,
  status: 'active',
  attrs: { userName: `${id}@example.com`, ...extra },
});

export const group = (id: string, displayName = `Group ${id}`) => ({ sourceId: id, targetId: `tg-${id}`, status: 'active' as const, displayName });

export const event = (over: Partial<NewEvent> = {}): NewEvent => ({
  time: '2026-03-01T10:00:00.000Z',
  integration: 'app',
  cycleId: 'c1',
  type: 'user_create_provision',
  result: 'success',
  sourceId: 'u1',
  targetId: 't-u1',
  summary: 'created',
  detail: { status: 201 },
  ...over,
});

export const op = (key: string, fingerprint = 'f1') => ({ key, fingerprint, kind: 'user.create', sourceId: key.replace(/^user:/, '') });
export const failure = (error = 'HTTP 500', attempts = 3) => ({ error, attempts, cycleId: 'c1' });
