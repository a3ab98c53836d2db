import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { notifySchema } from '../../src/events/notify/config.js';
import { Notifier, destinationsFromConfig } from '../../src/events/notify/notifier.js';
import { cycleFailed, held, quarantineEntered, quarantineLifted, sourceShrank, type NotifyMemory } from '../../src/events/notify/rules.js';
import { memoryLogger, openEventLog, startHttpReceiver, tempDir, type EventLog, type HttpReceiver } from './support.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function receiver(): Promise<HttpReceiver> {
  const r = await startHttpReceiver();
  cleanup.push(() => r.stop().catch(() => undefined));
  return r;
}

function stateFile(path = join(tempDir(), 'state.db')): EventLog {
  const log = openEventLog(path);
  cleanup.push(() => log.close());
  return log;
}

interface Options {
  memory: NotifyMemory;
  now?: () => number;
  logger?: ReturnType<typeof memoryLogger>['logger'];
}

/** A Notifier built from `notify:` config as a user writes it. */
function notifier(rules: unknown, options: Options): Notifier {
  const n = new Notifier({ destinations: destinationsFromConfig(notifySchema.parse(rules)), attempts: 2, retryDelayMs: 10, ...options });
  cleanup.push(() => n.close());
  return n;
}

const bodies = (r: HttpReceiver) => r.requests.map((q) => JSON.parse(q.body) as Record<string, unknown>);
const time = '2025-03-01T10:00:00.000Z';
const entered = () => quarantineEntered({ integration: 'gong', time, until: '2025-03-01T11:00:00.000Z', reason: 'HTTP 401 from the target' });
const lifted = () => quarantineLifted({ integration: 'gong', time, reason: 'a request succeeded' });

/** A quoted-printable body as a mail reader shows it (RFC 2045 6.7). */
const quotedPrintable = (text: string) =>
  Buffer.from(text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');

interface Mail {
  from: string;
  to: string[];
  raw: string;
}

async function smtpServer(options: { user?: string; password?: string } = {}): Promise<{ port: number; mails: Mail[] }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: options.user === undefined,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, done) {
      if (auth.username === options.user && auth.password === options.password) done(null, { user: auth.username });
      else done(new Error('Invalid username or password'));
    },
    onData(stream, session, done) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c.toString()));
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw });
        done();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as AddressInfo).port, mails };
}

describe('notifications', () => {
  it('sends one message when a quarantine starts, none while it lasts over five cycles, and one more when it is lifted', async () => {
    const r = await receiver();
    const n = notifier([{ on: ['quarantine'], webhook: r.url }], { memory: stateFile() });
    const first = await n.notify(entered());
    expect(first.sent).toEqual([`webhook http://127.0.0.1:${r.port}`]);
    for (let cycle = 0; cycle < 5; cycle++) expect((await n.notify(entered())).suppressed).toHaveLength(1);
    expect(r.requests).toHaveLength(1);
    await n.notify(lifted());
    await n.notify(lifted());
    expect(bodies(r).map((b) => b.kind)).toEqual(['quarantineEntered', 'quarantineLifted']);
  });

  it('sends one message when the same quarantine is reported twice at the same moment', async () => {
    const r = await receiver();
    r.delayMs = 50;
    const n = notifier([{ webhook: r.url }], { memory: stateFile() });
    const reports = await Promise.all([n.notify(entered()), n.notify(entered())]);
    expect(reports.map((x) => x.sent.length)).toEqual([1, 0]);
    expect(r.requests).toHaveLength(1);
  });

  it('gives a flapping target one message per change of state', async () => {
    const r = await receiver();
    const n = notifier([{ on: ['quarantine'], webhook: r.url }], { memory: stateFile() });
    for (const step of [entered, entered, lifted, entered, entered, entered, lifted, lifted]) await n.notify(step());
    expect(bodies(r).map((b) => b.kind)).toEqual(['quarantineEntered', 'quarantineLifted', 'quarantineEntered', 'quarantineLifted']);
  });

  it('remembers across a restart what was already sent, through the state', async () => {
    const r = await receiver();
    const path = join(tempDir(), 'state.db');
    await notifier([{ webhook: r.url }], { memory: stateFile(path) }).notify(entered());
    const again = notifier([{ webhook: r.url }], { memory: stateFile(path) });
    await again.notify(entered());
    expect(r.requests).toHaveLength(1);
    await again.notify(lifted());
    expect(r.requests).toHaveLength(2);
  });

  it('sends the Slack/Teams shape { text } with the integration and the reason in one line', async () => {
    const r = await receiver();
    const n = notifier([{ on: ['held'], webhook: r.url, format: 'slack' }], { memory: stateFile() });
    await n.notify(held({ integration: 'gong', time, deprovisions: 412, reason: 'more than safety.maxDeletes (50)\nsee plan' }));
    expect(bodies(r)).toHaveLength(1);
    const body = bodies(r)[0]!;
    expect(Object.keys(body)).toEqual(['text']);
    expect(body.text).toContain('integration gong');
    expect(body.text).toContain('412 users');
    expect(body.text).toContain('scimsync approve gong');
    expect(body.text).not.toContain('\n');
  });

  it('sends the generic JSON shape with the kind, the integration, the time and the facts', async () => {
    const r = await receiver();
    const n = notifier([{ webhook: r.url }], { memory: stateFile() });
    await n.notify(sourceShrank({ integration: 'strongdm', time, sourceUsers: 3, lastGood: 900, reason: 'safety.minSourceRatio 0.8' }));
    expect(bodies(r)[0]).toMatchObject({ source: 'scimsync', kind: 'sourceShrank', integration: 'strongdm', time, sourceUsers: 3, lastGood: 900 });
    expect(bodies(r)[0]!.text).toContain('shrank to 3 users from 900');
  });

  it('sends a rule only what it is on', async () => {
    const quarantines = await receiver();
    const failures = await receiver();
    const n = notifier(
      [
        { on: ['quarantine'], webhook: quarantines.url },
        { on: ['cycleFailed'], webhook: failures.url },
      ],
      { memory: stateFile() },
    );
    await n.notify(entered());
    await n.notify(cycleFailed({ integration: 'gong', time, error: 'source unreadable' }));
    expect(bodies(quarantines).map((b) => b.kind)).toEqual(['quarantineEntered']);
    expect(bodies(failures).map((b) => b.kind)).toEqual(['cycleFailed']);
  });

  it('repeats a lasting condition only after repeatAfter, and at once after it ended and came back', async () => {
    const r = await receiver();
    let now = Date.parse(time);
    const n = notifier([{ on: ['cycleFailed'], webhook: r.url, repeatAfter: '1h' }], { memory: stateFile(), now: () => now });
    const failed = () => cycleFailed({ integration: 'gong', time, error: 'the source timed out' });
    for (let cycle = 0; cycle < 5; cycle++) {
      await n.notify(failed());
      now += 10 * 60_000;
    }
    expect(r.requests).toHaveLength(1);
    now += 20 * 60_000;
    await n.notify(failed());
    expect(r.requests).toHaveLength(2);
    // Another integration's failures are news of their own.
    await n.notify(cycleFailed({ integration: 'strongdm', time, error: 'the source timed out' }));
    expect(r.requests).toHaveLength(3);
    n.clear('gong', 'cycleFailed');
    await n.notify(failed());
    expect(r.requests).toHaveLength(4);
  });

  it('tries a failed message again the next time, and never logs the webhook URL, whose path is its token', async () => {
    const r = await receiver();
    const memory = memoryLogger();
    const url = r.url.replace('/ingest', '/services/T0001/B0002/XyZsecretPathToken');
    const n = notifier([{ webhook: url }], { memory: stateFile(), logger: memory.logger });
    r.status = 500;
    const report = await n.notify(entered());
    expect(report.failed).toEqual([{ destination: `webhook http://127.0.0.1:${r.port}`, error: 'HTTP 500 (after 2 attempts)' }]);
    r.status = 200;
    await n.notify(entered());
    await n.notify(entered());
    expect(r.requests).toHaveLength(1);
    const logged = memory.lines.join('\n');
    expect(logged).toContain('HTTP 500');
    expect(logged).not.toContain('XyZsecretPathToken');
  });

  it('sends an email with a subject and a body through SMTP', async () => {
    const smtp = await smtpServer();
    const n = notifier([{ on: ['quarantine'], email: { to: ['ops@example.com', 'oncall@example.com'], from: 'scimsync@example.com', smtp: { host: '127.0.0.1', port: smtp.port } } }], {
      memory: stateFile(),
    });
    expect((await n.notify(entered())).sent).toEqual([`email to ops@example.com, oncall@example.com via 127.0.0.1:${smtp.port}`]);
    await n.notify(entered());
    expect(smtp.mails).toHaveLength(1);
    const mail = smtp.mails[0]!;
    expect(mail.from).toBe('scimsync@example.com');
    expect(mail.to).toEqual(['ops@example.com', 'oncall@example.com']);
    expect(mail.raw).toMatch(/^Subject: \[scimsync\] gong: integration quarantined\r?$/m);
    const body = quotedPrintable(mail.raw.slice(mail.raw.search(/\r?\n\r?\n/)));
    expect(body).toContain('scimsync: integration gong: quarantined until 2025-03-01T11:00:00.000Z: HTTP 401 from the target');
    expect(body).toContain('reason: HTTP 401 from the target');
  });

  it('logs in to SMTP with the configured user, and keeps the password out of logs when the login is refused', async () => {
    const smtp = await smtpServer({ user: 'scimsync', password: 'right-password-1' });
    const memory = memoryLogger();
    const rule = (password: string) => [
      { email: { to: 'ops@example.com', from: 'scimsync@example.com', smtp: { host: '127.0.0.1', port: smtp.port, requireTLS: false, auth: { user: 'scimsync', password } } } },
    ];
    const refused = await notifier(rule('wrong-password-9'), { memory: stateFile(), logger: memory.logger }).notify(entered());
    expect(refused.failed).toHaveLength(1);
    expect(smtp.mails).toHaveLength(0);
    expect(memory.lines.join('\n')).toMatch(/not sent/);
    expect(memory.lines.join('\n')).not.toContain('wrong-password-9');
    expect(refused.failed[0]!.error).not.toContain('wrong-password-9');

    await notifier(rule('right-password-1'), { memory: stateFile() }).notify(entered());
    expect(smtp.mails).toHaveLength(1);
  });

  it('does not send a password to an SMTP server that offers no TLS, unless told to', async () => {
    const smtp = await smtpServer({ user: 'scimsync', password: 'right-password-1' });
    const rules = [{ email: { to: 'ops@example.com', from: 'scimsync@example.com', smtp: { host: '127.0.0.1', port: smtp.port, auth: { user: 'scimsync', password: 'right-password-1' } } } }];
    const report = await notifier(rules, { memory: stateFile() }).notify(entered());
    expect(report.failed[0]!.error).toMatch(/STARTTLS/i);
    expect(smtp.mails).toHaveLength(0);
  });
});
