import type { PatchOperation } from '../scim/bodies.js';
import type { RequestOptions, ResourceType, ScimClient, ScimResource } from '../scim/client.js';

/** What a create may tell the Bulk writer: the source user it is, so a group created in the same request can name it. */
export interface CreateOptions {
  /** The source id of the user created (RFC 7644 §3.7.2: referenced as `bulkId:…` by a group in the same request). */
  user?: string;
}

/**
 * A create body that names users: `ref(sourceId)` is what to put as a member's `value`
 * for a user created earlier in this delivery and not known to the state yet (its id,
 * or `bulkId:…` while its create waits in the same Bulk request), else undefined.
 */
export type BodyWithMembers = (ref: (sourceId: string) => string | undefined) => { body: Record<string, unknown>; members: string[] };

/** A member a create named by `bulkId:` (RFC 7644 §3.7.2), with the id its create got. */
export interface MemberReference {
  sourceId: string;
  targetId: string;
  bulkId: string;
}

/**
 * The writes of a delivery: the SCIM client's own, one request each, or the Bulk
 * writer's (src/delivery/bulk.ts), which carries them in Bulk requests and answers
 * each one as the single request would have, errors included.
 */
export interface TargetWrites {
  create(type: ResourceType, body: Record<string, unknown>, options?: CreateOptions): Promise<{ resource: ScimResource; attempts: number }>;
  /**
   * A create whose body names users (a group with its first members). `users` are the
   * ones it may name; `holder` is the operation that held the Bulk request open for it.
   * `referenced`: the members it named by `bulkId:`, which the target may have resolved wrongly.
   */
  createWithMembers(
    type: ResourceType,
    users: readonly string[],
    build: BodyWithMembers,
    holder?: string,
  ): Promise<{ resource: ScimResource; attempts: number; members: string[]; referenced: MemberReference[] }>;
  patch(type: ResourceType, id: string, operations: PatchOperation[], options?: RequestOptions): Promise<{ attempts: number }>;
  put(type: ResourceType, id: string, body: Record<string, unknown>, options?: { ifMatch?: string | undefined }): Promise<{ attempts: number }>;
  remove(type: ResourceType, id: string): Promise<{ attempts: number }>;
}

/** Every write a request of its own. */
class SingleWrites implements TargetWrites {
  constructor(private readonly client: ScimClient) {}
  create(type: ResourceType, body: Record<string, unknown>) {
    return this.client.create(type, body);
  }
  async createWithMembers(type: ResourceType, _users: readonly string[], build: BodyWithMembers) {
    const { body, members } = build(() => undefined);
    return { ...(await this.client.create(type, body)), members, referenced: [] };
  }
  patch(type: ResourceType, id: string, operations: PatchOperation[], options?: RequestOptions) {
    return this.client.patch(type, id, operations, options);
  }
  put(type: ResourceType, id: string, body: Record<string, unknown>, options?: { ifMatch?: string | undefined }) {
    return this.client.put(type, id, body, options);
  }
  remove(type: ResourceType, id: string) {
    return this.client.remove(type, id);
  }
}

/** Where a delivery's writes go: the Bulk writer when the target takes Bulk requests, else one request each. */
export function writesOf(ctx: { client: ScimClient; writes?: TargetWrites | undefined }): TargetWrites {
  return (ctx.writes ??= new SingleWrites(ctx.client));
}
