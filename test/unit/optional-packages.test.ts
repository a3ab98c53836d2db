import { describe, expect, it } from 'vitest';
import { ldapSource } from '../../connectors/ldap.js';
import { MissingPackageError } from '../../src/errors.js';
import { email } from '../../src/events/notify/email.js';
import { Notifier } from '../../src/events/notify/notifier.js';
import { cycleFailed, type Notification, type NotifyMemory } from '../../src/events/notify/rules.js';

/** What Node's `import()` rejects with when a package is not installed. */
function notInstalled(name: string): Promise<never> {
  return Promise.reject(Object.assign(new Error(`Cannot find package '${name}' imported from /opt/scimsync/dist/connectors/ldap.js`), { code: 'ERR_MODULE_NOT_FOUND' }));
}

const ldapOptions = {
  integration: 'hr',
  url: 'ldap://127.0.0.1:1',
  bindDN: 'cn=reader,dc=example,dc=com',
  bindPassword: 'reader-secret',
  users: { base: 'ou=people,dc=example,dc=com', filter: '(objectClass=inetOrgPerson)', id: 'entryUUID' },
  attributes: { userName: 'mail' },
  pageSize: 500,
  timeoutMs: 5_000,
};

describe('a package only some configs need, not installed', () => {
  it('the LDAP source says in one line which package to install, and exits 2', async () => {
    const source = ldapSource({ ...ldapOptions, loadLdapts: () => notInstalled('ldapts') });
    const err = await source.snapshot().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MissingPackageError);
    expect((err as MissingPackageError).message).toBe('[scimsync] [integration hr] the LDAP source needs the ldapts package: npm install ldapts');
    expect((err as MissingPackageError).exitCode).toBe(2);
  });

  it('an email destination says in one line which package to install', async () => {
    const mail = email({ to: ['ops@example.com'], from: 'scimsync@example.com', smtp: { host: '127.0.0.1', port: 1 }, who: 'notify[0].email', loadNodemailer: () => notInstalled('nodemailer') });
    const n: Notification = { kind: 'cycleFailed', integration: 'hr', time: '2026-01-01T00:00:00.000Z', text: 'scimsync: hr: cycle failed', error: 'HTTP 500' };
    await expect(mail.send(n, new AbortController().signal)).rejects.toThrow(
      /^\[scimsync\] notify\[0\]\.email needs the nodemailer package: npm install nodemailer$/,
    );
    mail.close();
  });

  it('a package that is there but fails for another reason is not called missing', async () => {
    const broken = Object.assign(new Error("Cannot find package 'asn1' imported from /opt/node_modules/ldapts/dist/index.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    const source = ldapSource({ ...ldapOptions, loadLdapts: () => Promise.reject(broken) });
    await expect(source.snapshot()).rejects.toBe(broken);
  });

  it('a notification that needs the missing package fails once, with that line, not after retries', async () => {
    let loads = 0;
    const mail = email({
      to: ['ops@example.com'],
      from: 'scimsync@example.com',
      smtp: { host: '127.0.0.1', port: 1 },
      who: 'notify[0].email',
      loadNodemailer: () => {
        loads += 1;
        return notInstalled('nodemailer');
      },
    });
    const kept = new Map<string, string>();
    const memory: NotifyMemory = { last: (key) => kept.get(key), remember: (key, value) => void kept.set(key, value) };
    const destination = { ...mail, id: 'email:test', secrets: [], on: ['cycleFailed'] as const, repeatAfterMs: 60_000, timeoutMs: 5_000 };
    const notifier = new Notifier({ destinations: [destination], memory, attempts: 3, retryDelayMs: 10 });
    const report = await notifier.notify(cycleFailed({ integration: 'hr', time: '2026-01-01T00:00:00.000Z', error: 'HTTP 500' }));
    await notifier.close();
    expect(report.failed).toEqual([{ destination: mail.label, error: '[scimsync] notify[0].email needs the nodemailer package: npm install nodemailer' }]);
    expect(loads).toBe(1);
  });
});
