import { describe, expect, it } from 'vitest';
import { generic } from '../../connectors/profiles/generic.js';
import { gong, GONG_USER_SCHEMA } from '../../connectors/profiles/gong.js';
import { checkRule, MappingError, UserMapper } from '../../src/core/map.js';
import { unknownAttribute } from '../../src/core/target-schema.js';
import { conditionProblem, inScope, matches, type ScopeCondition } from '../../src/core/scope.js';
import { planCycle } from '../../src/core/plan-users.js';
import { parseConfig } from '../../src/config/load.js';

const user = (attributes: Record<string, unknown>, active = true) => ({ id: 'u1', active, attributes: { userName: 'ada@x.com', ...attributes } });
const one = async (spec: Record<string, unknown>, attributes: Record<string, unknown>) =>
  (await new UserMapper({}, { title: spec }, []).map(user(attributes))).attrs.title;

describe('mappings', () => {
  it('takes a source attribute, a constant or an expression', async () => {
    expect(await one({ from: 'jobTitle' }, { jobTitle: 'Engineer' })).toBe('Engineer');
    expect(await one({ value: 'Staff' }, {})).toBe('Staff');
    expect(await one({ expr: "givenName & ' ' & familyName" }, { givenName: 'Ada', familyName: 'L' })).toBe('Ada L');
  });

  it('takes the first of several attributes, or joins several, without an expression', async () => {
    expect(await one({ from: ['nick', 'givenName'] }, { givenName: 'Ada' })).toBe('Ada');
    expect(await one({ join: ['givenName', 'middle', 'familyName'] }, { givenName: 'Ada', familyName: 'L' })).toBe('Ada L');
    expect(await one({ join: ['a', 'b'], separator: '-' }, { a: 'x', b: 'y' })).toBe('x-y');
    expect(await one({ from: 'displayName', join: ['givenName', 'familyName'] }, { givenName: 'Ada', familyName: 'L' })).toBe('Ada L');
    expect(await one({ from: 'displayName', join: ['givenName', 'familyName'] }, { displayName: 'Countess', givenName: 'Ada' })).toBe('Countess');
  });

  it('offers lower, upper, coalesce, default, switch and JSONata’s join, replace, split', async () => {
    expect(await one({ expr: '$lower(x)' }, { x: 'AbC' })).toBe('abc');
    expect(await one({ expr: '$upper(x)' }, { x: 'AbC' })).toBe('ABC');
    expect(await one({ expr: '$coalesce(a, b, c)' }, { b: '', c: 'third' })).toBe('third');
    expect(await one({ expr: "$default(a, 'none')" }, {})).toBe('none');
    expect(await one({ expr: "$switch(dept, {'ENG': 'Engineering', 'S': 'Sales'}, 'Other')" }, { dept: 'S' })).toBe('Sales');
    expect(await one({ expr: "$switch(dept, {'ENG': 'Engineering'}, 'Other')" }, { dept: 'X' })).toBe('Other');
    expect(await one({ expr: "$join(['a', 'b'], '-')" }, {})).toBe('a-b');
    expect(await one({ expr: "$replace(x, '_', ' ')" }, { x: 'a_b' })).toBe('a b');
    expect(await one({ expr: "$split(x, '@')[0]" }, { x: 'ada@x.com' })).toBe('ada');
  });

  it('sends onCreate values on create only, and keeps a value on empty when asked', async () => {
    const m = await new UserMapper({}, { locale: { value: 'en-US', apply: 'onCreate' }, title: { from: 'title', keepOnEmpty: true } }, []).map(user({}));
    expect(m.createOnly).toEqual({ locale: 'en-US' });
    expect(m.keep).toEqual(['title']);
    const state = [{ sourceId: 'u1', targetId: 't1', status: 'active' as const, attrs: { userName: 'ada@x.com', locale: 'fr-FR', title: 'Eng' } }];
    const plan = planCycle({ desired: [{ sourceId: 'u1', attrs: { userName: 'ada@x.com' }, createOnly: m.createOnly, keep: m.keep, active: true }], state: state, options: { deprovision: 'deactivate' } });
    expect(plan.operations).toEqual([]); // neither the create-only locale nor the kept title is touched
  });

  it('reports a required value that is missing, and an expression that fails', async () => {
    const m = await new UserMapper({}, { title: { from: 'title', required: true }, nickName: { expr: "$error('boom')" } }, [{ rule: 'required', path: 'title' }]).map(user({}));
    expect(m.problems.map((p) => p.rule).sort()).toEqual(['expression', 'required']);
  });

  it('refuses unknown SCIM attributes and expression syntax errors, with the key and the position', () => {
    expect(() => new UserMapper({}, { titel: { from: 'x' } }, [])).toThrow(MappingError);
    expect(() => new UserMapper({}, { titel: { from: 'x' } }, [])).toThrow(/mappings\.user\.titel: "titel" is not a SCIM User attribute/);
    expect(() => new UserMapper({}, { title: { expr: '$lower(' } }, [])).toThrow(/mappings\.user\.title\.expr: expression syntax error at position \d+/);
    expect(() => new UserMapper({}, { title: { from: 'a', value: 'b' } }, [])).toThrow(/exactly one of from \(with or without join\), join, value or expr/);
    expect(unknownAttribute('emails[type eq "work"].value')).toBeUndefined();
    expect(unknownAttribute('addresses[type eq "work"].locality')).toBeUndefined();
    expect(unknownAttribute('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department')).toBeUndefined();
    expect(unknownAttribute('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:shoeSize')).toMatch(/enterprise/);
    expect(unknownAttribute(`${GONG_USER_SCHEMA}:country`)).toBeUndefined();
    expect(unknownAttribute('name.nick')).toMatch(/not a SCIM User attribute/);
  });

  it('rejects a bad mapping or scoping condition at config load, naming the key path', () => {
    const base = (extra: string) =>
      `integrations:\n  - name: a\n    source: { type: file, path: d.json }\n    target: { url: http://x, auth: { type: bearer, token: t } }\n${extra}`;
    expect(() => parseConfig(base('    mappings: { user: { displayName: { expr: "givenName &" } } }\n'), 'c.yaml')).toThrow(
      /c\.yaml: integrations\[0\]\.mappings\.user\.displayName\.expr: expression syntax error at position/,
    );
    expect(() => parseConfig(base('    mappings: { user: { jobTitle: { from: title } } }\n'), 'c.yaml')).toThrow(/integrations\[0\]\.mappings\.user\.jobTitle: "jobTitle" is not a SCIM User attribute/);
    expect(() => parseConfig(base('    scope: { filters: [[{ attribute: dept, op: regexMatch, value: "(" }]] }\n'), 'c.yaml')).toThrow(/integrations\[0\]\.scope\.filters\[0\]\[0\]: invalid regular expression/);
    expect(() => parseConfig(base('    scope: { filters: [[{ attribute: dept, op: like, value: x }]] }\n'), 'c.yaml')).toThrow(/scope\.filters\[0\]\[0\]\.op/);
  });
});

describe('profile rules', () => {
  it('checks email domains, locales, time zones and countries', () => {
    const path = 'x';
    expect(checkRule({ rule: 'emailDomain', path }, 'a@corp.com', { emailDomains: ['corp.com'] })).toBeUndefined();
    expect(checkRule({ rule: 'emailDomain', path }, 'a@gmail.com', { emailDomains: ['corp.com'] })).toMatch(/not in an allowed domain/);
    expect(checkRule({ rule: 'locale', path }, 'en-US', {})).toBeUndefined();
    expect(checkRule({ rule: 'locale', path }, 'english', {})).toMatch(/not a locale/);
    expect(checkRule({ rule: 'timezone', path }, 'Europe/Paris', {})).toBeUndefined();
    expect(checkRule({ rule: 'timezone', path }, 'Mars/Olympus', {})).toMatch(/IANA/);
    expect(checkRule({ rule: 'country', path }, 'FR', {})).toBeUndefined();
    expect(checkRule({ rule: 'country', path }, 'XX', {})).toMatch(/ISO 3166/);
    expect(checkRule({ rule: 'country', path }, 'France', {})).toMatch(/ISO 3166/);
    expect(checkRule({ rule: 'required', path }, undefined, {})).toMatch(/required/);
  });

  it('the gong profile needs names and a work email in the company domain', async () => {
    const mapper = new UserMapper(gong.mappings, undefined, gong.rules, { emailDomains: ['corp.com'] });
    const ok = await mapper.map(user({ givenName: 'Ada', familyName: 'L', email: 'ada@corp.com', country: 'GB', timezone: 'Europe/London', locale: 'en-GB' }));
    expect(ok.problems).toEqual([]);
    expect(ok.attrs[`${GONG_USER_SCHEMA}:country`]).toBe('GB');
    const bad = await mapper.map(user({ givenName: 'Ada', email: 'ada@gmail.com' }));
    expect(bad.problems.map((p) => p.message)).toEqual([
      'name.familyName is required and has no value',
      'emails[type eq "work"].value "ada@gmail.com" is not in an allowed domain (corp.com)',
    ]);
  });

  it('the generic profile maps the file attributes as before', async () => {
    const m = await new UserMapper(generic.mappings, undefined, generic.rules).map(user({ givenName: 'Ada', familyName: 'L', displayName: 'Countess' }));
    expect(m.attrs).toMatchObject({ externalId: 'u1', 'name.formatted': 'Ada L', displayName: 'Countess' });
  });
});

describe('scoping filters', () => {
  const u = user({ department: 'Sales', level: '7', contractor: 'false', email: 'ada@corp.com', country: 'FR' });
  const cases: [ScopeCondition, boolean][] = [
    [{ attribute: 'department', op: 'equals', value: 'Sales' }, true],
    [{ attribute: 'department', op: 'equals', value: 'sales' }, false],
    [{ attribute: 'department', op: 'notEquals', value: 'Sales' }, false],
    [{ attribute: 'active', op: 'isTrue' }, true],
    [{ attribute: 'contractor', op: 'isFalse' }, true],
    [{ attribute: 'manager', op: 'isNull' }, true],
    [{ attribute: 'email', op: 'isNotNull' }, true],
    [{ attribute: 'email', op: 'regexMatch', value: '@corp\\.com$' }, true],
    [{ attribute: 'email', op: 'notRegexMatch', value: '@corp\\.com$' }, false],
    [{ attribute: 'country', op: 'in', value: ['FR', 'DE'] }, true],
    [{ attribute: 'level', op: 'greaterThan', value: 5 }, true],
    [{ attribute: 'level', op: 'lessThan', value: 5 }, false],
  ];
  for (const [c, want] of cases) {
    it(`${c.attribute} ${c.op} ${JSON.stringify(c.value ?? '')} is ${want}`, () => expect(matches(u, c)).toBe(want));
  }
  it('ANDs inside a clause and ORs between clauses', () => {
    const sales = { attribute: 'department', op: 'equals', value: 'Sales' } as const;
    const de = { attribute: 'country', op: 'equals', value: 'DE' } as const;
    expect(inScope(u, [[sales, de]])).toBe(false);
    expect(inScope(u, [[sales, de], [sales]])).toBe(true);
    expect(inScope(u, [])).toBe(true);
  });
  it('checks operators and values', () => {
    expect(conditionProblem({ op: 'in', value: 'x' })).toMatch(/list/);
    expect(conditionProblem({ op: 'equals' })).toMatch(/needs a value/);
    expect(conditionProblem({ op: 'isTrue' })).toBeUndefined();
  });
});
