import type { Config } from '../../config/schema.js';
import type { StoredObject } from '../../../state/index.js';
import { openState } from '../state-access.js';

export type { EscrowEntry, StoredObject } from '../../../state/index.js';
export { valueJson } from './describe.js';

/** Which objects `state show` looks for: source id, target id, userName or displayName (any case). */
export interface ObjectLookup {
  key: string;
  /** Only this integration's objects. */
  integration?: string | undefined;
}

/** What the state holds for the objects that `lookup` names, with their memberships and escrow. */
export function findStoredObjects(config: Config, lookup: ObjectLookup): StoredObject[] {
  const store = openState(config);
  try {
    return store.findObjects(lookup.integration, lookup.key);
  } finally {
    store.close();
  }
}
