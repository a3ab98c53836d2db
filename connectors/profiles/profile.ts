import type { SourceUser } from '../../src/model.js';
import type { ScimAttrs } from '../../src/scim/attributes.js';

/** What a target wants: how a source user becomes a SCIM resource, and the target's quirks. */
export interface TargetProfile {
  readonly name: string;
  /** Attribute used to look a user up before create (RFC 7644 filter). */
  readonly matchAttribute: 'userName';
  mapUser(user: SourceUser): ScimAttrs;
}
