/**
 * Events read back from a real state file: whichever way they are read (a
 * listing, forwarding, one by id), a record is what was written, its detail
 * last, and it prints as JSON exactly as a plain object would, although its
 * detail is only parsed when first read.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../state/sqlite/index.js';
import type { StateStore } from '../../state/interface.js';
import { tempDir } from './support.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0).reverse()) c();
});

function store(): StateStore {
  const s = SqliteStateStore.open(join(tempDir(), 'state.db'));
  cleanup.push(() => s.close());
  return s;
}

const detail = { status: 400, scimType: 'invalidValue', changed: ['title', 'name.givenName'], nested: { a: [1, { b: null }] }, text: 'é "quoted" \\ \u2028' };

describe('event records read from the state', () => {
  it('print as JSON exactly as the plain record, with the same field order, from every reader', () => {
    const s = store();
    s.insertEvent({ time: '2026-03-01T10:00:00.123Z', integration: 'app', cycleId: 'c1', type: 'user_update_provision', result: 'failure', sourceId: 'u1', targetId: 't1', summary: 'update failed', detail });
    s.insertEvent({ time: '2026-03-01T10:00:01.000Z', integration: 'app', cycleId: null, type: 'idm_integration_update', result: 'success', summary: 'no detail' });
    s.flush();
    const plain = {
      id: 1,
      time: '2026-03-01T10:00:00.123Z',
      integration: 'app',
      cycleId: 'c1',
      type: 'user_update_provision',
      result: 'failure',
      sourceId: 'u1',
      targetId: 't1',
      summary: 'update failed',
      detail,
    };
    const second = { id: 2, time: '2026-03-01T10:00:01.000Z', integration: 'app', cycleId: null, type: 'idm_integration_update', result: 'success', sourceId: null, targetId: null, summary: 'no detail', detail: {} };
    const readers = {
      listing: [...s.iterateEvents({})],
      newest: [...s.iterateEvents({ order: 'newest' })].reverse(),
      forwarding: s.eventsAfter(0, 10),
      byId: [s.getEvent(1)!, s.getEvent(2)!],
      page: s.eventsPage({ limit: 10 }).reverse(),
    };
    for (const [name, records] of Object.entries(readers)) {
      expect(records.map((r) => JSON.stringify(r)), name).toEqual([JSON.stringify(plain), JSON.stringify(second)]);
      expect(records[0], name).toEqual(plain);
      expect(Object.keys(records[0]!), name).toEqual(Object.keys(plain));
      expect({ ...records[0]! }, name).toEqual(plain);
    }
  });

  it('keeps one detail object per record, and takes a new one', () => {
    const s = store();
    s.insertEvent({ time: '2026-03-01T10:00:00.000Z', integration: 'app', cycleId: 'c1', type: 'user_create_provision', result: 'success', sourceId: 'u1', summary: 'created', detail: { attempts: 1 } });
    s.flush();
    const r = s.getEvent(1)!;
    expect(r.detail).toBe(r.detail);
    r.detail.seen = true;
    expect(r.detail).toEqual({ attempts: 1, seen: true });
    r.detail = { replaced: 1 };
    expect(JSON.parse(JSON.stringify(r)).detail).toEqual({ replaced: 1 });
    expect(structuredClone(r).detail).toEqual({ replaced: 1 });
  });
});
