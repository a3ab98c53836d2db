import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';

/** What the invariants read of a state file: the links and the event ids. */
export interface StateView {
  links: StateLink[];
  /** Every event id in the log, ascending. */
  eventIds: number[];
  /** Source ids with an operation recorded in flight (a cycle stopped before its result was committed). */
  inflight?: string[];
}

export interface StateLink {
  kind: 'user' | 'group';
  sourceId: string;
  targetId: string | null;
  status: 'active' | 'inactive' | 'deleted';
}

/**
 * Reads the state with plain read-only SQL: opening it with the state module
 * would migrate a file written by another checkout's CLI.
 */
export function readState(path: string, integration: string): StateView {
  if (!existsSync(path)) return { links: [], eventIds: [], inflight: [] };
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const links = db
      .prepare('SELECT kind, source_id AS sourceId, target_id AS targetId, status FROM objects WHERE integration = ? ORDER BY kind, source_id')
      .all(integration) as StateLink[];
    const eventIds = (db.prepare('SELECT id FROM event_log ORDER BY id').all() as { id: number }[]).map((r) => r.id);
    const inflight = (db.prepare('SELECT DISTINCT source_id AS sourceId FROM inflight WHERE integration = ?').all(integration) as { sourceId: string }[]).map((r) => r.sourceId);
    return { links, eventIds, inflight };
  } finally {
    db.close();
  }
}
