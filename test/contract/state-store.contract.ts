/**
 * The contract every StateStore implementation keeps (state/interface.ts), in the
 * manner of unstorage's driver tests: an implementation's test file calls
 * `testStateStore(name, open)`. Only the interface is used.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe } from 'vitest';
import type { StateStore } from '../../state/index.js';
import { testDeliveryWrites } from './state-store-delivery.contract.js';
import type { FreshState, OpenStateStore } from './state-store-fixtures.js';
import { testStateRecords } from './state-store-records.contract.js';

export type { OpenStateStore } from './state-store-fixtures.js';

export function testStateStore(name: string, open: OpenStateStore): void {
  describe(`the StateStore contract: ${name}`, () => {
    const opened: StateStore[] = [];
    const fresh = (): FreshState => {
      const location = join(mkdtempSync(join(tmpdir(), 'scimsync-contract-')), 'state.db');
      const store = open(location);
      opened.push(store);
      return {
        store,
        location,
        another: () => {
          const other = open(location);
          opened.push(other);
          return other;
        },
      };
    };
    afterEach(() => {
      for (const s of opened.splice(0)) {
        try {
          s.close();
        } catch {
          // A store a test closed already.
        }
      }
    });

    testDeliveryWrites(fresh);
    testStateRecords(fresh);
  });
}
