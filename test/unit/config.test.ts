import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

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
    expect(i.target.rateLimit).toEqual({ requestsPerSecond: 10, maxConcurrent: 4 });
    expect(i.deprovision.action).toBe('deactivate');
    expect(i.safety.maxDeletes).toBe(50);
    expect(i.schedule).toEqual({ every: '40m' });
    // relative paths resolve against the config file's folder
    expect(i.source).toMatchObject({ path: '/etc/scimsync/directory.json' });
  });

  it('names the missing environment variable and the key path', () => {
    expect(error(base(), {})).toBe(
      '[scimsync] config: integrations[0].target.auth.token: environment variable GONG_TOKEN is not set',
    );
  });

  it('reads a secret from a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scimsync-cfg-'));
    writeFileSync(join(dir, 'token'), 'from-file\n');
    const c = parseConfig(base(`token: \${file:${join(dir, 'token')}}`), 'x.yaml', {});
    expect(c.integrations[0]!.target.auth).toEqual({ type: 'bearer', token: 'from-file' });
    expect(error(base('token: ${file:/nonexistent/token}'), {})).toMatch(
      /integrations\[0\]\.target\.auth\.token: secret file \/nonexistent\/token cannot be read \(ENOENT\)/,
    );
  });

  it('rejects an unknown key with its path', () => {
    expect(error(base().replace('    target:', '    tagret: 1\n    target:'))).toMatch(/integrations\[0\]\.tagret: unknown key$/);
    expect(error(`stat: {}\n${base()}`)).toMatch(/scimsync\.yaml: stat: unknown key$/);
  });

  it('rejects a wrong type with its path', () => {
    expect(error(`${base()}    safety: { maxDeletes: "many" }\n`)).toMatch(/integrations\[0\]\.safety\.maxDeletes: expected number/);
    expect(error(`${base()}    deprovision: { action: purge }\n`)).toMatch(/integrations\[0\]\.deprovision\.action/);
  });

  it('gives the line and column of a YAML syntax error', () => {
    expect(error('integrations:\n  - name: [unclosed\n')).toMatch(/scimsync\.yaml:\d+:\d+: /);
  });

  it('requires at least one integration', () => {
    expect(error('state: { path: x.db }\n')).toMatch(/integrations: /);
  });
});
