import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import SCIMMY from 'scimmy';

export const GONG_EXTENSION = 'urn:ietf:params:scim:schemas:extension:Gong:2.0:User';

export type StoredResource = Record<string, unknown> & { id: string };

/**
 * How the target answers a filtered list: `honour` applies the filter (keeping case,
 * as scimmy's does), `caseless` applies it without case (as `caseExact: false` asks),
 * `ignore` lists every resource of the type, `first` lists only the first stored one
 * (the same account for every `userName eq "…"`), as broken targets do.
 */
export type FilterMode = 'honour' | 'caseless' | 'ignore' | 'first';

/** The state of one running target; scimmy's handlers reach it through `requestStore`. */
export interface Store {
  users: Map<string, StoredResource>;
  groups: Map<string, StoredResource>;
  strict: boolean;
  profile: 'gong' | 'strongdm' | undefined;
  emailDomains: string[];
  uniqueUserNames: boolean;
  filters: FilterMode;
  /** Resource versions (RFC 7644 §3.14), bumped on every write; shown as `meta.version` when `etags`. */
  versions: Map<string, number>;
  etags: boolean;
}

/** The version of a resource as the target shows it: a weak ETag. */
export function versionTag(store: Store, id: string): string {
  return `W/"${store.versions.get(id) ?? 0}"`;
}

/** Records a write to a resource: its version moves on. */
export function bumpVersion(store: Store, id: string): void {
  store.versions.set(id, (store.versions.get(id) ?? 0) + 1);
}

/** A stored resource as answered: with `meta.version` when the target keeps versions. */
function answered(store: Store, r: StoredResource): StoredResource {
  return store.etags ? ({ ...r, meta: { version: versionTag(store, r.id) } } as StoredResource) : r;
}

// scimmy's resource registry is process-wide: its handlers find the store of the target serving the request.
// Each request runs with its own target's store, so several targets can run in one process.
export const requestStore = new AsyncLocalStorage<Store>();
let declared = false;

function plain(instance: unknown): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(instance)) as Record<string, unknown>;
  delete copy.meta;
  return copy;
}

function storeOf(): Store {
  const store = requestStore.getStore();
  if (!store) throw new SCIMMY.Types.Error(503, null as unknown as string, 'target not running');
  return store;
}

/** A copy of a resource with its names and string values lower-cased: what a filter without case compares. */
function lowered(value: unknown): unknown {
  if (typeof value === 'string') return value.toLowerCase();
  if (Array.isArray(value)) return value.map(lowered);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), lowered(v)]));
}

function listOf(store: Store, all: StoredResource[], filter: { match(items: unknown[]): unknown[]; expression?: string } | undefined): unknown[] {
  if (!filter) return all;
  if (store.filters === 'ignore') return all;
  if (store.filters === 'first') return all.slice(0, 1);
  if (store.filters === 'caseless' && filter.expression !== undefined) {
    const caseless = new SCIMMY.Types.Filter(filter.expression.toLowerCase());
    return all.filter((r) => caseless.match([lowered(r)]).length > 0);
  }
  return filter.match(all);
}

function checkUser(store: Store, data: Record<string, unknown>, id: string | undefined): void {
  const userName = String(data.userName ?? '');
  for (const other of store.uniqueUserNames ? store.users.values() : []) {
    if (other.id !== id && String(other.userName).toLowerCase() === userName.toLowerCase()) {
      throw new SCIMMY.Types.Error(409, 'uniqueness', `userName ${userName} is already taken`);
    }
  }
  checkUserFields(store, data, id);
}

/** The rules of a user other than a unique userName: required attributes, the profile's rules. */
export function checkUserFields(store: Store, data: Record<string, unknown>, id: string | undefined): void {
  const emailsOf = (d: Record<string, unknown>) =>
    (Array.isArray(d.emails) ? (d.emails as Record<string, unknown>[]) : []).map((e) => String(e.value ?? '').toLowerCase()).filter(Boolean);
  if (store.profile === 'strongdm') {
    if (typeof data.active !== 'boolean') throw new SCIMMY.Types.Error(400, 'invalidValue', 'active is required');
    const mine = new Set(emailsOf(data));
    for (const other of store.users.values()) {
      if (other.id !== id && emailsOf(other).some((e) => mine.has(e))) throw new SCIMMY.Types.Error(409, 'uniqueness', 'email is already in use');
    }
  }
  if (!store.strict && !store.profile) return;
  const name = (data.name ?? {}) as Record<string, unknown>;
  if (!name.givenName || !name.familyName) {
    throw new SCIMMY.Types.Error(400, 'invalidValue', 'name.givenName and name.familyName are required');
  }
  const emails = Array.isArray(data.emails) ? (data.emails as Record<string, unknown>[]) : [];
  const work = emails.find((e) => e.type === 'work' && typeof e.value === 'string' && e.value.includes('@'));
  if (!work) throw new SCIMMY.Types.Error(400, 'invalidValue', 'a work email is required');
  const domain = String(work.value).split('@')[1]!.toLowerCase();
  if (store.profile === 'gong' && store.emailDomains.length > 0 && !store.emailDomains.includes(domain)) {
    throw new SCIMMY.Types.Error(400, 'invalidValue', `the work email must be in ${store.emailDomains.join(', ')}`);
  }
}

/** Declares the User and Group resources with scimmy, once per process. */
export function declareResources(): void {
  if (declared) return;
  declared = true;
  const gong = new SCIMMY.Types.SchemaDefinition('GongUser', GONG_EXTENSION, 'Gong user extension', [
    new SCIMMY.Types.Attribute('string', 'stateOrProvince'),
    new SCIMMY.Types.Attribute('string', 'country'),
  ]);
  SCIMMY.Resources.declare(SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false).extend(gong as unknown as typeof SCIMMY.Types.Schema, false)) // scimmy accepts a SchemaDefinition here; its types only name Schema classes
    .ingress((resource, instance) => {
      const store = storeOf();
      const data = plain(instance);
      const id = resource.id ?? randomUUID();
      if (resource.id && !store.users.has(resource.id)) throw new SCIMMY.Types.Error(404, null as unknown as string, `resource ${resource.id} not found`);
      checkUser(store, data, resource.id);
      const stored = { ...data, id } as StoredResource;
      store.users.set(id, stored);
      bumpVersion(store, id);
      return answered(store, stored) as never; // scimmy's handler types want its schema classes; the store holds plain JSON
    })
    .egress((resource) => {
      const store = storeOf();
      if (resource.id) {
        const found = store.users.get(resource.id);
        if (!found) throw new SCIMMY.Types.Error(404, null as unknown as string, `resource ${resource.id} not found`);
        return answered(store, found) as never;
      }
      return listOf(store, [...store.users.values()], resource.filter).map((r) => answered(store, r as StoredResource)) as never;
    })
    .degress((resource) => {
      const store = storeOf();
      if (!resource.id || !store.users.delete(resource.id)) {
        throw new SCIMMY.Types.Error(404, null as unknown as string, `resource ${String(resource.id)} not found`);
      }
    });
  SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .ingress((resource, instance) => {
      const store = storeOf();
      const data = plain(instance);
      const id = resource.id ?? randomUUID();
      if (resource.id && !store.groups.has(resource.id)) throw new SCIMMY.Types.Error(404, null as unknown as string, `resource ${resource.id} not found`);
      for (const other of store.groups.values()) {
        if (other.id !== id && other.displayName === data.displayName) {
          throw new SCIMMY.Types.Error(409, 'uniqueness', `group ${String(data.displayName)} exists`);
        }
      }
      const stored = { ...data, id } as StoredResource;
      store.groups.set(id, stored);
      bumpVersion(store, id);
      return answered(store, stored) as never; // scimmy's handler types want its schema classes; the store holds plain JSON
    })
    .egress((resource) => {
      const store = storeOf();
      if (resource.id) {
        const found = store.groups.get(resource.id);
        if (!found) throw new SCIMMY.Types.Error(404, null as unknown as string, `resource ${resource.id} not found`);
        return answered(store, found) as never;
      }
      return listOf(store, [...store.groups.values()], resource.filter).map((r) => answered(store, r as StoredResource)) as never;
    })
    .degress((resource) => {
      const store = storeOf();
      if (!resource.id || !store.groups.delete(resource.id)) {
        throw new SCIMMY.Types.Error(404, null as unknown as string, `resource ${String(resource.id)} not found`);
      }
    });
}
