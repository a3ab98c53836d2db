import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { checkHttpConfig, httpConfigSchema, isLoopback, parseListen } from '../../src/config/http.js';
import { hashPasswordCommand, type PasswordInput } from '../../src/console/hash-password.js';
import { tokenMatches, verifyPassword } from '../../src/console/passwords.js';
import { configSecrets } from '../../src/console/secrets.js';
import { ConfigError, UsageError } from '../../src/errors.js';

const HASH = 'scrypt$32768$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=';

describe('the http block', () => {
  it('listens on loopback by default, with /metrics and /healthz closed off loopback', () => {
    const http = httpConfigSchema.parse({});
    expect(http).toEqual({ listen: '127.0.0.1:9464', openMetrics: false });
    expect(() => checkHttpConfig(http)).not.toThrow();
  });

  it('refuses a listen beyond loopback without http.auth, in one line naming http.listen (exit 2)', () => {
    for (const listen of ['0.0.0.0:9464', '192.168.1.5:9464', '[::]:9464', 'console.example.com:443']) {
      let err: unknown;
      try {
        checkHttpConfig(httpConfigSchema.parse({ listen }));
      } catch (e) {
        err = e;
      }
      expect(err, listen).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.exitCode).toBe(2);
      expect(e.message).toMatch(/^\[scimsync\] config: http\.listen /);
      expect(e.message).toContain('requires http.auth');
      expect(e.message).not.toContain('\n');
    }
    const empty = httpConfigSchema.parse({ listen: '0.0.0.0:9464', auth: {} });
    expect(() => checkHttpConfig(empty)).toThrow(ConfigError);
  });

  it('accepts a listen beyond loopback with a user or a token', () => {
    const http = httpConfigSchema.parse({ listen: '0.0.0.0:9464', auth: { users: [{ name: 'ada', passwordHash: HASH, role: 'admin' }] } });
    expect(() => checkHttpConfig(http)).not.toThrow();
    expect(http.auth?.sessionTtl).toBe('12h');
  });

  it('tells loopback names apart', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1']) expect(isLoopback(host), host).toBe(false);
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseListen(':9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(() => parseListen('9464')).toThrow(/http\.listen 9464: expected host:port/);
  });

  it('names the key of a bad hash, a bad role, a name used twice', () => {
    const bad = httpConfigSchema.safeParse({ auth: { users: [{ name: 'ada', passwordHash: 'hunter2', role: 'admin' }] } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['auth', 'users', 0, 'passwordHash']);
    expect(bad.error?.issues[0]?.message).toContain('scimsync console hash-password');
    expect(bad.error?.issues[0]?.message).not.toContain('hunter2');
    expect(httpConfigSchema.safeParse({ auth: { users: [{ name: 'ada', passwordHash: HASH, role: 'root' }] } }).success).toBe(false);
    const twice = httpConfigSchema.parse({ auth: { users: [{ name: 'ada', passwordHash: HASH }], apiTokens: [{ name: 'ada', hash: `sha256$${'0'.repeat(64)}` }] } });
    expect(() => checkHttpConfig(twice)).toThrow('http.auth.apiTokens[0].name: "ada" is used twice');
    expect(httpConfigSchema.safeParse({ auth: { sessionTtl: '90d' } }).success).toBe(false);
  });
});

describe('scimsync console hash-password', () => {
  const io = (input: PasswordInput) => {
    const out: string[] = [];
    const prompts: string[] = [];
    return { out, prompts, io: { input, out: (l: string) => out.push(l), prompt: (t: string) => prompts.push(t) } };
  };

  it('hashes a password from a pipe; the hash verifies it and nothing else', async () => {
    const run = io(Readable.from(['correct horse battery\n']));
    await hashPasswordCommand({}, run.io);
    expect(run.out).toHaveLength(1);
    expect(run.out[0]).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(httpConfigSchema.safeParse({ auth: { users: [{ name: 'ada', passwordHash: run.out[0] }] } }).success).toBe(true);
    expect(await verifyPassword('correct horse battery', run.out[0]!)).toBe(true);
    expect(await verifyPassword('correct horse batterY', run.out[0]!)).toBe(false);
    expect(run.prompts).toEqual([]);
  });

  it('reads twice from a terminal without echo, and refuses two different passwords', async () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true, rawModes: [] as boolean[], setRawMode(mode: boolean) { tty.rawModes.push(mode); return tty; } });
    const run = io(tty);
    const done = hashPasswordCommand({}, run.io);
    tty.write('tty-password-1\r');
    await new Promise((r) => setTimeout(r, 20));
    tty.write('tty-password-1\r');
    await done;
    expect(await verifyPassword('tty-password-1', run.out[0]!)).toBe(true);
    expect(tty.rawModes).toEqual([true, false, true, false]);
    expect(run.prompts.join('')).not.toContain('tty-password-1');

    const other = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => other });
    const second = io(other);
    const refused = hashPasswordCommand({}, second.io);
    other.write('tty-password-1\r');
    await new Promise((r) => setTimeout(r, 20));
    other.write('tty-password-2\r');
    await expect(refused).rejects.toThrow(UsageError);
    expect(second.out).toEqual([]);
  });

  it('refuses a short password', async () => {
    await expect(hashPasswordCommand({}, io(Readable.from(['short\n'])).io)).rejects.toThrow('at least 10 characters, got 5');
  });

  it('makes an API token and the hash that goes in http.auth.apiTokens', async () => {
    const run = io(Readable.from([]));
    await hashPasswordCommand({ token: true }, run.io);
    const token = run.out[0]!.replace(/^token: /, '');
    const hash = run.out[1]!.replace(/^hash: +/, '');
    expect(token).toMatch(/^scimsync_[A-Za-z0-9_-]{43}$/);
    expect(tokenMatches(token, hash)).toBe(true);
    expect(httpConfigSchema.safeParse({ auth: { apiTokens: [{ name: 'ci', hash }] } }).success).toBe(true);
  });
});

describe('configSecrets', () => {
  it('finds every credential of a config, wherever it sits', () => {
    const secrets = configSecrets({
      integrations: [
        { name: 'a', target: { url: 'https://x', auth: { type: 'bearer', token: 'tok-1' } }, source: { type: 'ldap', bindPassword: 'ldap-pw' } },
        { name: 'b', target: { auth: { type: 'oauth2', clientId: 'id', clientSecret: 'cs-1' } }, source: { type: 'scim', auth: { type: 'basic', username: 'u', password: 'pw-1' } } },
      ],
      events: { forward: [{ type: 'http', auth: { type: 'bearer', token: 'siem-1' }, hmacSecret: 'hmac-1' }] },
      notify: [{ webhook: 'https://hooks.slack.example/T1/B2/xyz' }],
    });
    expect(secrets.sort()).toEqual(['cs-1', 'hmac-1', 'https://hooks.slack.example/T1/B2/xyz', 'ldap-pw', 'pw-1', 'siem-1', 'tok-1']);
  });
});
