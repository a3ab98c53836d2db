import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import type { IntegrationConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { redactSecrets, redactUrl } from '../../src/redact.js';

const base = (auth = 'token: ${GONG_TOKEN}') => `
integrations:
  - name: gong
    source: { type: file, path: ./directory.json }
    target:
      url: https://scim.example.com/scim/v2
      auth:
        type: bearer
        ${auth}
`;

/** `base()` with `key: value` set under the integration's `target`. */
const withTarget = (line: string) => base().replace('    target:\n', `    target:\n      ${line}\n`);

function error(text: string, env: NodeJS.ProcessEnv = { GONG_TOKEN: 't' }): string {
  try {
    parseConfig(text, 'scimsync.yaml', env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('applies the documented defaults', () => {
    const c = parseConfig(base(), '/etc/scimsync/scimsync.yaml', { GONG_TOKEN: 'secret' });
    const i = c.integrations[0]!;
    expect(i.target.auth).toEqual({ type: 'bearer', token: 'secret' });
    expect(i.target.profile).toBe('generic');
    // No rate set: the rate is found from the target's 429s (adaptive).
    expect(i.target.rateLimit).toEqual({ maxConcurrent: 4 });
    expect(i.deprovision.action).toBe('deactivate');
    expect(i.safety.maxDeletes).toBe(50);
    expect(i.schedule).toEqual({ every: '40m' });
    // relative paths resolve against the config file's folder
    expect(i.source).toMatchObject({ path: '/etc/scimsync/directory.json' });
  });

  it('names the file, the key path and the missing environment variable', () => {
    expect(error(base(), {})).toBe(
      '[scimsync] config: scimsync.yaml: integrations[0].target.auth.token: environment variable GONG_TOKEN is not set',
    );
  });

  it('reads a secret from a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scimsync-cfg-'));
    writeFileSync(join(dir, 'token'), 'from-file\n');
    const c = parseConfig(base(`token: \${file:${join(dir, 'token')}}`), 'x.yaml', {});
    expect(c.integrations[0]!.target.auth).toEqual({ type: 'bearer', token: 'from-file' });
    expect(error(base('token: ${file:/nonexistent/token}'), {})).toMatch(
      /scimsync\.yaml: integrations\[0\]\.target\.auth\.token: secret file \/nonexistent\/token cannot be read \(ENOENT\)/,
    );
  });

  it('rejects an unknown key with its path', () => {
    expect(error(base().replace('    target:', '    tagret: 1\n    target:'))).toMatch(/integrations\[0\]\.tagret: unknown key$/);
    expect(error(`stat: {}\n${base()}`)).toMatch(/scimsync\.yaml: stat: unknown key$/);
  });

  it('rejects a wrong type with its path', () => {
    expect(error(`${base()}    safety: { maxDeletes: "many" }\n`)).toMatch(/integrations\[0\]\.safety\.maxDeletes: expected number/);
    expect(error(`${base()}    deprovision: { action: purge }\n`)).toMatch(/integrations\[0\]\.deprovision\.action/);
    expect(error(withTarget('timeoutMs: "60000"'))).toMatch(/integrations\[0\]\.target\.timeoutMs: expected number, received string$/);
  });

  it('gives the line and column of a YAML syntax error', () => {
    expect(error('integrations:\n  - name: [unclosed\n')).toMatch(/scimsync\.yaml:\d+:\d+: /);
  });

  it('requires at least one integration', () => {
    expect(error('state: { path: x.db }\n')).toMatch(/integrations: /);
  });
});

describe('config: numbers and durations are bounded', () => {
  it('refuses a timeout Node would clamp to 1 ms, saying the bound and the value', () => {
    expect(error(withTarget('timeoutMs: 4294967296'))).toBe(
      '[scimsync] config: scimsync.yaml: integrations[0].target.timeoutMs: expected a whole number of milliseconds from 1 to 3,600,000 (1 hour), got 4294967296',
    );
    expect(error(withTarget('timeoutMs: 2.5'))).toMatch(/target\.timeoutMs: expected a whole number of milliseconds .*, got 2\.5$/);
    expect(parseConfig(withTarget('timeoutMs: 3600000'), 'x.yaml', { GONG_TOKEN: 't' }).integrations[0]!.target.timeoutMs).toBe(3_600_000);
  });

  const integrationLine = (line: string) => `${base()}    ${line}\n`;
  const ldap = (extra: string) =>
    base().replace(
      '    source: { type: file, path: ./directory.json }',
      `    source: { type: ldap, url: "ldap://127.0.0.1:389", bindDN: cn=r, bindPassword: p, users: { base: "dc=x" }, ${extra} }`,
    );
  const scim = (extra: string) =>
    base().replace(
      '    source: { type: file, path: ./directory.json }',
      `    source: { type: scim, url: "https://dir.example.com/scim/v2", auth: { type: bearer, token: t }, ${extra} }`,
    );
  const cases: { text: string; path: string; expected: RegExp }[] = [
    { text: withTarget('rateLimit: { requestsPerSecond: 0.000001 }'), path: 'target.rateLimit.requestsPerSecond', expected: /a number from 0\.01 to 1,000,000, got 0\.000001/ },
    { text: withTarget('rateLimit: { maxConcurrent: 100000 }'), path: 'target.rateLimit.maxConcurrent', expected: /from 1 to 1,000, got 100000/ },
    { text: withTarget('rateLimit: { burst: 1e9 }'), path: 'target.rateLimit.burst', expected: /from 1 to 100,000/ },
    { text: withTarget('retry: { maxAttempts: 1000000 }'), path: 'target.retry.maxAttempts', expected: /from 1 to 100/ },
    { text: withTarget('retry: { baseDelayMs: 4294967296 }'), path: 'target.retry.baseDelayMs', expected: /milliseconds from 0 to 3,600,000/ },
    { text: withTarget('retry: { maxDelayMs: 4294967296 }'), path: 'target.retry.maxDelayMs', expected: /milliseconds from 0 to 3,600,000/ },
    { text: withTarget('retry: { maxTotalWaitMs: 4294967296 }'), path: 'target.retry.maxTotalWaitMs', expected: /milliseconds from 0 to 86,400,000/ },
    { text: withTarget('options: { membersPerRequest: 1000000 }'), path: 'target.options.membersPerRequest', expected: /from 1 to 10,000/ },
    { text: withTarget('maxResponseBytes: 512'), path: 'target.maxResponseBytes', expected: /bytes from 1,024 to 1,073,741,824 \(1 KiB to 1 GiB\), got 512/ },
    { text: integrationLine('escrow: { maxCycles: 1000000000 }'), path: 'escrow.maxCycles', expected: /from 1 to 10,000/ },
    { text: integrationLine('safety: { maxDeletes: 1e12 }'), path: 'safety.maxDeletes', expected: /from 0 to 10,000,000/ },
    { text: integrationLine('safety: { minSourceRatio: 1.5 }'), path: 'safety.minSourceRatio', expected: /a number from 0 to 1, got 1\.5/ },
    { text: integrationLine('groups: { membersPerRequest: 1000000 }'), path: 'groups.membersPerRequest', expected: /from 1 to 10,000/ },
    { text: integrationLine('schedule: { every: 0s }'), path: 'schedule.every', expected: /a duration from 100ms to 30d, got 0s/ },
    { text: integrationLine('schedule: { every: 100000d }'), path: 'schedule.every', expected: /a duration from 100ms to 30d, got 100000d/ },
    { text: ldap('timeoutMs: 4294967296'), path: 'source.timeoutMs', expected: /milliseconds from 1 to 3,600,000/ },
    { text: ldap('pageSize: 1000000'), path: 'source.pageSize', expected: /from 1 to 10,000/ },
    { text: scim('timeoutMs: 4294967296'), path: 'source.timeoutMs', expected: /milliseconds from 1 to 3,600,000/ },
    { text: scim('pageSize: 1000000'), path: 'source.pageSize', expected: /from 1 to 10,000/ },
  ];
  it.each(cases)('refuses integrations[0].$path out of bounds', ({ text, path, expected }) => {
    const message = error(text);
    expect(message).toContain(`scimsync.yaml: integrations[0].${path}: `);
    expect(message).toMatch(expected);
  });

  it('refuses events.retainDays out of bounds', () => {
    expect(error(`events: { retainDays: 100000000 }\n${base()}`)).toMatch(/scimsync\.yaml: events\.retainDays: expected a whole number of days from 1 to 36,500/);
  });

  it('accepts values within the bounds', () => {
    const c = parseConfig(
      `${withTarget('rateLimit: { requestsPerSecond: 0.5, maxConcurrent: 1000 }')}    schedule: { every: 100ms }\n    safety: { maxDeletes: 0, maxDeletePercent: 12.5 }\n`,
      'x.yaml',
      { GONG_TOKEN: 't' },
    );
    expect(c.integrations[0]!.target.rateLimit).toEqual({ requestsPerSecond: 0.5, maxConcurrent: 1000 });
    expect(c.integrations[0]!.safety).toEqual({ maxDeletes: 0, minSourceRatio: 0.8, maxDeletePercent: 12.5 });
  });

  it('caps a response at 8 MiB unless target.maxResponseBytes says otherwise', () => {
    const bytes = (text: string): IntegrationConfig['target']['maxResponseBytes'] =>
      parseConfig(text, 'x.yaml', { GONG_TOKEN: 't' }).integrations[0]!.target.maxResponseBytes;
    expect(bytes(base())).toBe(8 * 1024 * 1024);
    expect(bytes(withTarget('maxResponseBytes: 1024'))).toBe(1024);
    expect(error(withTarget('maxResponseBytes: 2147483648'))).toMatch(/integrations\[0\]\.target\.maxResponseBytes: .*got 2147483648$/);
  });
});

describe('config: URLs', () => {
  it('takes only http: and https: for SCIM and token URLs, ldap: and ldaps: for LDAP', () => {
    expect(error(base().replace('https://scim.example.com/scim/v2', 'ftp://scim.example.com/scim/v2'))).toBe(
      '[scimsync] config: scimsync.yaml: integrations[0].target.url: expected an http: or https: URL, not ftp:',
    );
    expect(error(base().replace('https://scim.example.com/scim/v2', '"javascript:alert(1)"'))).toMatch(
      /integrations\[0\]\.target\.url: expected an http: or https: URL, not javascript:$/,
    );
    const scimSource = base().replace(
      '{ type: file, path: ./directory.json }',
      '{ type: scim, url: "file:///etc/passwd", auth: { type: bearer, token: t } }',
    );
    expect(error(scimSource)).toMatch(/integrations\[0\]\.source\.url: expected an http: or https: URL, not file:$/);
    const oauth = base('tokenUrl: "data:text/plain,x"').replace('type: bearer', 'type: oauth2\n        clientId: c\n        clientSecret: s');
    expect(error(oauth)).toMatch(/integrations\[0\]\.target\.auth\.tokenUrl: expected an http: or https: URL, not data:$/);
    const ldapSource = base().replace(
      '{ type: file, path: ./directory.json }',
      '{ type: ldap, url: "http://dc1.example.com", bindDN: cn=r, bindPassword: p, users: { base: "dc=x" } }',
    );
    expect(error(ldapSource)).toMatch(/integrations\[0\]\.source\.url: expected an ldap: or ldaps: URL, not http:$/);
    expect(parseConfig(base().replace('https://', 'http://'), 'x.yaml', { GONG_TOKEN: 't' }).integrations[0]!.target.url).toBe(
      'http://scim.example.com/scim/v2',
    );
  });

  it('refuses a user or password in any URL without showing them', () => {
    const targetWith = (url: string) => base().replace('https://scim.example.com/scim/v2', url);
    const shown = error(targetWith('https://admin:hunter2-pw@scim.example.com/scim/v2'));
    expect(shown).toBe(
      '[scimsync] config: scimsync.yaml: integrations[0].target.url: a user or password in the URL is not allowed (it would be logged); put credentials under auth:',
    );
    // from the environment, too, and with a malformed password the URL parser gives up on
    const fromEnv = error(targetWith('https://${CREDS}@scim.example.com/scim/v2'), { GONG_TOKEN: 't', CREDS: 'admin:hunter2/pw' });
    expect(fromEnv).toMatch(/integrations\[0\]\.target\.url: a user or password in the URL is not allowed/);
    const sources = [
      '{ type: scim, url: "https://reader:hunter2-pw@dir.example.com/scim/v2", auth: { type: bearer, token: t } }',
      '{ type: ldap, url: "ldaps://reader:hunter2-pw@dc1.example.com", bindDN: cn=r, bindPassword: p, users: { base: "dc=x" } }',
    ];
    for (const source of sources) {
      const message = error(base().replace('{ type: file, path: ./directory.json }', source));
      expect(message).toMatch(/integrations\[0\]\.source\.url: a user or password in the URL is not allowed/);
      expect(message).not.toContain('hunter2');
    }
    const oauth = base('tokenUrl: "https://client:hunter2-pw@idp.example.com/token"').replace(
      'type: bearer',
      'type: oauth2\n        clientId: c\n        clientSecret: s',
    );
    expect(error(oauth)).toMatch(/integrations\[0\]\.target\.auth\.tokenUrl: a user or password .* clientId and clientSecret$/);
    const schemeless = error(targetWith('admin:hunter2@scim.example.com'));
    expect(schemeless).toMatch(/integrations\[0\]\.target\.url: expected an http: or https: URL$/);
    for (const message of [shown, fromEnv, error(oauth), schemeless]) {
      expect(message).not.toContain('hunter2');
      expect(message).not.toContain('admin');
    }
  });

  it('keeps a substituted value out of a message that would echo it', () => {
    const text = `${base()}    scope:\n      filters:\n        - - attribute: dept\n            op: regexMatch\n            value: "\${PATTERN}("\n`;
    const message = error(text, { GONG_TOKEN: 't', PATTERN: 'sekret-pattern' });
    expect(message).toMatch(/integrations\[0\]\.scope\.filters\[0\]\[0\]: invalid regular expression: /);
    expect(message).not.toContain('sekret-pattern');
  });
});

describe('config: integrations', () => {
  it('refuses two integrations of one name, naming both', () => {
    const three = base().replace('integrations:\n', '').replace(/name: gong/, 'name: NAME');
    const text = `integrations:\n${three.replace('NAME', 'app')}${three.replace('NAME', 'crm')}${three.replace('NAME', 'app')}`;
    expect(error(text)).toBe('[scimsync] config: scimsync.yaml: integrations[0].name and integrations[2].name are both "app"');
  });
});

describe('config: YAML', () => {
  const bomb = [
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
    'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
    'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
    'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
    '',
  ].join('\n');

  it('refuses an alias bomb in one line with the line and column', () => {
    const message = error(bomb);
    expect(message).toMatch(/^\[scimsync\] config: scimsync\.yaml:\d+:\d+: YAML aliases expand to more than 10,000 values$/);
    const [, line, column] = /scimsync\.yaml:(\d+):(\d+)/.exec(message)!;
    expect(bomb.split('\n')[Number(line) - 1]!.slice(Number(column) - 1)).toMatch(/^\*[a-f]/);
  });

  it('refuses a recursive alias and an alias with no anchor', () => {
    expect(error('a: &a [1, *a]\n')).toBe('[scimsync] config: scimsync.yaml:1:11: alias *a is inside its own anchor');
    expect(error(`x: *nope\n${base()}`)).toBe('[scimsync] config: scimsync.yaml:1:4: alias *nope has no anchor before it');
  });

  it('still takes a few plain aliases', () => {
    const first = base().replace('      auth:\n', '      auth: &auth\n');
    const second = first.replace('integrations:\n', '').replace('name: gong', 'name: crm').replace(/auth: &auth\n.*\n.*\n/, 'auth: *auth\n');
    const c = parseConfig(`${first}${second}`, 'x.yaml', { GONG_TOKEN: 'shared' });
    expect(c.integrations.map((i) => i.target.auth)).toEqual([
      { type: 'bearer', token: 'shared' },
      { type: 'bearer', token: 'shared' },
    ]);
  });

  it('gives the column in the file as written when a ${…} precedes the error', () => {
    const at = (text: string) => /scimsync\.yaml:(\d+:\d+):/.exec(error(text))?.[1];
    const broken = '    protect: [${GONG_TOKEN}, "admin@*"]]\n';
    const same = broken.replace('${GONG_TOKEN}', 'x'.repeat('${GONG_TOKEN}'.length));
    expect(at(`${base()}${broken}`)).toBeDefined();
    expect(at(`${base()}${broken}`)).toBe(at(`${base()}${same}`));
  });

  it('reports a YAML error through loadConfig as one line naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scimsync-cfg-'));
    const file = join(dir, 'scimsync.yaml');
    writeFileSync(file, bomb);
    expect(() => loadConfig(file, {})).toThrow(new RegExp(`^\\[scimsync\\] config: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: [^\\n]+$`));
  });
});

describe('config: ${…} references', () => {
  it('substitutes inside flow mappings and sequences, as the README shows', () => {
    const text = base().replace(
      '    source: { type: file, path: ./directory.json }',
      '    source: { type: scim, url: https://${DIR_HOST}/scim/v2, auth: { type: bearer, token: ${SRC_TOKEN} }, pageSize: 100 }',
    );
    const c = parseConfig(`${text}    protect: [\${ADMIN}, "break-glass-*"]\n`, 'x.yaml', {
      GONG_TOKEN: 't',
      DIR_HOST: 'directory.example.com',
      SRC_TOKEN: 'src-secret',
      ADMIN: 'admin@*',
    });
    expect(c.integrations[0]!.source).toEqual({
      type: 'scim',
      url: 'https://directory.example.com/scim/v2',
      auth: { type: 'bearer', token: 'src-secret' },
      pageSize: 100,
      timeoutMs: 60_000,
    });
    expect(c.integrations[0]!.protect).toEqual(['admin@*', 'break-glass-*']);
  });

  it('takes a value as text, never as YAML', () => {
    const injected = 'x }, profile: gong, extra: { a: 1 ]\n#';
    const text = [
      'integrations:',
      '  - name: gong',
      '    source: { type: file, path: ./directory.json }',
      '    target: { url: https://scim.example.com/scim/v2, auth: { type: bearer, token: ${TOKEN} } }',
      '',
    ].join('\n');
    const c = parseConfig(text, 'x.yaml', { TOKEN: injected });
    expect(c.integrations[0]!.target.auth).toEqual({ type: 'bearer', token: injected });
    expect(c.integrations[0]!.target.profile).toBe('generic');
  });

  it('names the key path of an unset variable in a flow mapping', () => {
    const text = base().replace('    source: { type: file, path: ./directory.json }', '    source: { type: file, path: "${DIR}/users.json" }');
    expect(error(text)).toBe('[scimsync] config: scimsync.yaml: integrations[0].source.path: environment variable DIR is not set');
  });

  it('leaves ${…} in comments alone', () => {
    expect(parseConfig(`# token: \${NOT_SET}\n${base()}`, 'x.yaml', { GONG_TOKEN: 't' }).integrations).toHaveLength(1);
  });
});

describe('redact', () => {
  it('hides the userinfo of a URL and nothing else', () => {
    expect(redactUrl('https://admin:pw@scim.example.com/scim/v2?x=1')).toBe('https://***@scim.example.com/scim/v2?x=1');
    expect(redactUrl('ldaps://cn=reader:p@ss@dc1.example.com')).toBe('ldaps://***@dc1.example.com');
    expect(redactUrl('https://admin:p/ss@scim.example.com')).toBe('https://***@scim.example.com');
    expect(redactUrl('https://scim.example.com/users?filter=a@b.com')).toBe('https://scim.example.com/users?filter=a@b.com');
    expect(redactUrl('not a url')).toBe('not a url');
  });

  it('hides every occurrence of each secret, the longest first', () => {
    expect(redactSecrets('token abc123 then abc123-long and abc123', ['abc123', 'abc123-long', ''])).toBe('token *** then *** and ***');
    expect(redactSecrets('nothing here', [])).toBe('nothing here');
  });
});
