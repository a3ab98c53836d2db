import { describe, expect, it } from 'vitest';
import { diffAttrs, sameTargetValue } from '../../src/core/attributes.js';
import { AccountIndex, resourceMatches } from '../../src/core/matching.js';
import { planCycle } from '../../src/core/plan-users.js';
import type { DesiredUser, StateUser } from '../../src/core/records.js';
import {
  checkMappings,
  factsOf,
  parseTargetSchema,
  RFC_SCHEMA,
  schemaFromText,
  schemaToText,
  type TargetSchema,
} from '../../src/core/target-schema.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** A /Schemas and /ResourceTypes answer as scimmy and Better Auth give them (abridged). */
function answers(overrides: Record<string, Record<string, unknown>> = {}) {
  const attr = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'string', multiValued: false, required: false, caseExact: false, mutability: 'readWrite', ...extra, ...overrides[name] });
  return {
    schemas: {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
      Resources: [
        {
          id: USER,
          attributes: [
            attr('userName', { required: true }),
            attr('title'),
            attr('displayName'),
            attr('name', { type: 'complex', subAttributes: [attr('givenName'), attr('familyName')] }),
            attr('emails', { type: 'complex', multiValued: true, subAttributes: [attr('value', { required: true }), attr('type')] }),
            attr('groups', { type: 'complex', multiValued: true, mutability: 'readOnly', subAttributes: [attr('value', { mutability: 'readWrite' })] }),
          ],
        },
        { id: ENTERPRISE, attributes: [attr('department'), attr('manager', { type: 'complex', subAttributes: [attr('value')] })] },
        { id: 'urn:ietf:params:scim:schemas:core:2.0:Group', attributes: [attr('displayName', { caseExact: true })] },
      ],
    },
    resourceTypes: [{ name: 'User', endpoint: '/Users', schema: USER, schemaExtensions: [{ schema: ENTERPRISE, required: false }] }],
  };
}

describe('the target schema (RFC 7643 §7)', () => {
  it('parses /Schemas and /ResourceTypes into facts per attribute path, and keeps to RFC 7643 where the target is silent', () => {
    const s = parseTargetSchema(answers({ title: { caseExact: true, mutability: 'immutable' } }));
    expect(s.origin).toBe('target');
    expect(factsOf(s, 'title')).toMatchObject({ caseExact: true, mutability: 'immutable' });
    expect(factsOf(s, 'userName')).toMatchObject({ required: true, caseExact: false });
    expect(factsOf(s, 'emails[type eq "work"].value')).toMatchObject({ caseExact: false, required: true });
    expect(factsOf(s, 'emails.value')).toMatchObject({ caseExact: false });
    // The Group schema's displayName is not the User's.
    expect(factsOf(s, 'displayName').caseExact).toBe(false);
    // Common attributes (RFC 7643 §3.1) are in no schema: id and externalId are caseExact.
    expect(factsOf(s, 'externalId').caseExact).toBe(true);
    expect(factsOf(s, 'id')).toMatchObject({ caseExact: true, mutability: 'readOnly' });
    // A sub-attribute is written no more than its parent.
    expect(factsOf(s, 'groups.value').mutability).toBe('readOnly');
    // Not described by the target: RFC 7643's definition, then §7's defaults.
    expect(factsOf(s, 'x509Certificates[type eq "work"].value').caseExact).toBe(true);
    expect(factsOf(s, 'nickName')).toEqual({ caseExact: false, mutability: 'readWrite', required: false, multiValued: false });
  });

  it('gives RFC 7643 alone for a target that publishes nothing, and round-trips through its text in state', () => {
    expect(parseTargetSchema({ schemas: undefined })).toBe(RFC_SCHEMA);
    expect(parseTargetSchema({ schemas: '<html>' })).toBe(RFC_SCHEMA);
    const s = parseTargetSchema(answers());
    expect(schemaFromText(schemaToText(s))).toEqual(s);
    expect(schemaFromText('{"v":2}')).toBeUndefined();
    expect(schemaFromText('not json')).toBeUndefined();
  });
});

describe('comparisons follow caseExact', () => {
  const exactTitle = parseTargetSchema(answers({ title: { caseExact: true } }));

  it('reconcile: without case unless caseExact', () => {
    expect(sameTargetValue('emails[type eq "work"].value', 'ada@example.com', 'Ada@Example.com', exactTitle)).toBe(true);
    expect(sameTargetValue('title', 'engineer', 'Engineer', RFC_SCHEMA)).toBe(true);
    expect(sameTargetValue('title', 'engineer', 'Engineer', exactTitle)).toBe(false);
    expect(sameTargetValue('externalId', 'abc', 'ABC', RFC_SCHEMA)).toBe(false);
  });

  it('the planner diff: a value differing only in case from what the target holds is no change unless caseExact', () => {
    expect(diffAttrs({ title: 'engineer' }, { title: 'Engineer' }, RFC_SCHEMA)).toEqual({ set: {}, remove: [] });
    expect(diffAttrs({ title: 'engineer' }, { title: 'Engineer' }, exactTitle)).toEqual({ set: { title: 'Engineer' }, remove: [] });
    expect(diffAttrs({ externalId: 'a' }, { externalId: 'A' }, RFC_SCHEMA).set).toEqual({ externalId: 'A' });
  });

  it('lookups and the account index: userName without case, unless the target makes it caseExact', () => {
    const account = { id: 't1', userName: 'ADA@example.com', externalId: 'Src-1' };
    expect(resourceMatches(account, { attribute: 'userName', value: 'ada@example.com' })).toBe(true);
    expect(resourceMatches(account, { attribute: 'externalId', value: 'src-1' })).toBe(false);
    const exactUserName = parseTargetSchema(answers({ userName: { caseExact: true } }));
    expect(resourceMatches(account, { attribute: 'userName', value: 'ada@example.com' }, exactUserName)).toBe(false);
    expect(new AccountIndex([account], ['userName']).find('userName', 'ada@EXAMPLE.com')).toEqual([account]);
    expect(new AccountIndex([account], ['userName'], exactUserName).find('userName', 'ada@example.com')).toEqual([]);
  });
});

describe('planning against the schema: readOnly never sent, immutable on create only', () => {
  const schema: TargetSchema = parseTargetSchema(answers({ title: { mutability: 'immutable' }, displayName: { mutability: 'readOnly' } }));
  const d = (attrs: Record<string, string>): DesiredUser => ({ sourceId: 'a', active: true, attrs: { userName: 'a@x', ...attrs } });
  const s = (attrs: Record<string, string>): StateUser => ({ sourceId: 'a', targetId: 't-a', status: 'active', attrs: { userName: 'a@x', ...attrs } });

  it('leaves readOnly attributes out of a create, and keeps immutable ones', () => {
    const plan = planCycle({ desired: [d({ title: 'T', displayName: 'A' })], state: [], options: { deprovision: 'deactivate', schema } });
    expect(plan.operations).toEqual([expect.objectContaining({ kind: 'user.create', attrs: { userName: 'a@x', title: 'T' } })]);
  });

  it('leaves readOnly and immutable attributes out of an update, and sends the rest', () => {
    const plan = planCycle({ desired: [d({ title: 'New', displayName: 'New', 'name.givenName': 'G' })], state: [s({ title: 'Old', displayName: 'Old' })], options: { deprovision: 'deactivate', schema } });
    expect(plan.operations).toEqual([expect.objectContaining({ kind: 'user.update', changes: { set: { 'name.givenName': 'G' }, remove: [] } })]);
    const only = planCycle({ desired: [d({ title: 'New' })], state: [s({ title: 'Old' })], options: { deprovision: 'deactivate', schema } });
    expect(only.operations).toEqual([]);
  });
});

describe('mappings checked against the schema', () => {
  const entry = (path: string, required = false) => ({ path, key: `mappings.user.${path}`, required });

  it('a mapped attribute the target lacks is a warning (an error when the mapping is required); a required one no mapping fills is an error', () => {
    const s = parseTargetSchema(answers());
    expect(
      checkMappings(s, [entry('userName', true), entry('externalId'), entry('title'), entry('nickName'), entry('emails[type eq "work"].value'), entry(`${ENTERPRISE}:manager`)]),
    ).toEqual([{ severity: 'warning', key: 'mappings.user.nickName', message: "the target's schema has no attribute nickName (GET /Schemas)" }]);
    expect(checkMappings(s, [entry('title'), entry('costCode', true)])).toEqual([
      { severity: 'error', key: 'mappings.user.costCode', message: "the target's schema has no attribute costCode (GET /Schemas)" },
      { severity: 'error', key: 'mappings.user.userName', message: 'the target requires userName and no mapping fills it (GET /Schemas)' },
    ]);
    expect(checkMappings(s, [entry('userName'), entry('urn:example:ext:2.0:User:badge')])).toEqual([
      { severity: 'warning', key: 'mappings.user.urn:example:ext:2.0:User:badge', message: "the target's User resource has no schema extension urn:example:ext:2.0:User (GET /ResourceTypes)" },
    ]);
    expect(checkMappings(s, [entry('userName'), entry('groups[type eq "direct"].value')])).toEqual([
      expect.objectContaining({ severity: 'warning', message: 'the target\'s schema makes groups[type eq "direct"].value readOnly: it is never sent' }),
    ]);
  });

  it('says nothing of a target that publishes no schema', () => {
    expect(checkMappings(RFC_SCHEMA, [entry('nickName')])).toEqual([]);
  });
});
