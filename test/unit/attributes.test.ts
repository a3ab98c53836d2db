import { describe, expect, it } from 'vitest';
import { buildPatchOps, userBody } from '../../src/scim/bodies.js';
import { diffAttrs } from '../../src/core/attributes.js';
import { parsePath } from '../../src/core/paths.js';
import { generic } from '../../connectors/profiles/generic.js';
import { UserMapper } from '../../src/core/map.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

describe('SCIM attributes', () => {
  it('parses core, sub-attribute, typed multi-valued and extension paths', () => {
    expect(parsePath('title')).toEqual({ attribute: 'title' });
    expect(parsePath('name.givenName')).toEqual({ attribute: 'name', sub: 'givenName' });
    expect(parsePath('emails[type eq "work"].value')).toEqual({ attribute: 'emails', type: 'work', sub: 'value' });
    expect(parsePath(`${ENTERPRISE}:manager`)).toEqual({ schema: ENTERPRISE, attribute: 'manager' });
    expect(() => parsePath('emails[value co "x"]')).toThrow(/unsupported SCIM attribute path/);
  });

  it('maps a source user with the generic profile and builds the RFC 7643 body', async () => {
    const { attrs } = await new UserMapper(generic.mappings, undefined, generic.rules).map({
      id: 'u2',
      active: true,
      attributes: { userName: 'alan@x', givenName: 'Alan', familyName: 'Turing', email: 'alan@x', phone: '+1', title: 'Eng', managerId: 'u1' },
    });
    const { body, sent } = userBody(attrs, { active: true, resolve: (id) => (id === 'u1' ? 'target-1' : undefined) });
    expect(body).toEqual({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
      externalId: 'u2',
      userName: 'alan@x',
      name: { givenName: 'Alan', familyName: 'Turing', formatted: 'Alan Turing' },
      displayName: 'Alan Turing',
      emails: [{ type: 'work', primary: true, value: 'alan@x' }],
      title: 'Eng',
      phoneNumbers: [{ type: 'work', primary: true, value: '+1' }],
      [ENTERPRISE]: { manager: { value: 'target-1' } },
      active: true,
    });
    expect(Object.keys(sent)).toContain(`${ENTERPRISE}:manager`);
  });

  it('leaves out an unresolvable manager so the next cycle sends it', () => {
    const attrs = { userName: 'a', [`${ENTERPRISE}:manager`]: { userRef: 'nobody' }, title: 'Engineer' };
    const { body, sent } = userBody(attrs, { active: true, resolve: () => undefined });
    expect(body.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User']);
    expect(body.title).toBe('Engineer');
    expect(sent).toEqual({ userName: 'a', title: 'Engineer' });
    // What was asked for is left as it was.
    expect(Object.keys(attrs)).toHaveLength(3);
  });

  it('turns changes into PATCH operations; a cleared typed value removes the whole entry', () => {
    const changes = diffAttrs(
      { title: 'Old', 'phoneNumbers[type eq "work"].value': '1', userName: 'a' },
      { title: 'New', userName: 'a' },
    );
    expect(buildPatchOps(changes, () => undefined).ops).toEqual([
      { op: 'replace', path: 'title', value: 'New' },
      { op: 'remove', path: 'phoneNumbers[type eq "work"]' },
    ]);
  });
});
