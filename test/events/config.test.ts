import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { formatKeyPath } from '../../src/config/load.js';
import { sinkKey } from '../../src/events/forward/config.js';
import { forwardSchema } from '../../src/events/forward/sinks.js';
import { notifySchema } from '../../src/events/notify/config.js';

/** The messages a user sees, as the config loader words them: `key.path: message`. */
function problems(schema: z.ZodType, value: unknown, prefix: (string | number)[]): string[] {
  const result = schema.safeParse(value);
  if (result.success) return [];
  return result.error.issues.map((i) => `${formatKeyPath([...prefix, ...i.path])}: ${i.message}`);
}

const forward = (value: unknown) => problems(forwardSchema, value, ['events', 'forward']);
const notify = (value: unknown) => problems(notifySchema, value, ['notify']);

describe('events.forward config', () => {
  it('applies the documented defaults', () => {
    const [http, syslog] = forwardSchema.parse([
      { type: 'http', url: 'https://siem.example.com/ingest', auth: { type: 'bearer', token: 'siem-token' } },
      { type: 'syslog', url: 'tls://siem.example.com:6514' },
    ]);
    expect(http).toMatchObject({ batchSize: 500, flushMs: 1000, timeoutMs: 10_000, retry: { baseDelayMs: 500, maxDelayMs: 60_000 }, rejectUnauthorized: true });
    expect(syslog).toMatchObject({ batchSize: 100, facility: 13, rejectUnauthorized: true });
    expect(sinkKey(http!)).toBe('http:siem.example.com');
    expect(sinkKey(syslog!)).toBe('syslog:siem.example.com:6514');
  });

  it('refuses credentials in a URL without echoing them', () => {
    const messages = forward([{ type: 'http', url: 'https://ada:pa55word@siem.example.com/ingest' }]);
    expect(messages).toEqual(['events.forward[0].url: a user or password in the URL is not allowed (it would be logged); use auth: { type: bearer, token } or hmac:']);
  });

  it('takes only http(s) for an HTTP sink and only tcp:// or tls://host:port for syslog', () => {
    expect(forward([{ type: 'http', url: 'ftp://siem.example.com/x' }])).toEqual(['events.forward[0].url: expected a http:// or https:// URL, not ftp://']);
    expect(forward([{ type: 'syslog', url: 'udp://siem.example.com:514' }])).toEqual(['events.forward[0].url: expected a tcp:// or tls:// URL, not udp://']);
    expect(forward([{ type: 'syslog', url: 'tls://siem.example.com:6514/logs' }])).toEqual([
      'events.forward[0].url: expected tcp:// or tls://host:port with nothing after the port, such as tls://siem.example.com:6514',
    ]);
    expect(forward([{ type: 'syslog', url: 'siem.example.com:6514' }])).toHaveLength(1);
  });

  it('bounds every number and says the value received', () => {
    expect(forward([{ type: 'http', url: 'https://s.example.com/i', batchSize: 0, flushMs: 1e12, timeoutMs: 1.5 }])).toEqual([
      'events.forward[0].batchSize: expected a whole number from 1 to 10,000, got 0',
      'events.forward[0].timeoutMs: expected a whole number of milliseconds from 100 to 300,000, got 1.5',
      'events.forward[0].flushMs: expected a whole number of milliseconds from 0 to 60,000, got 1000000000000',
    ]);
    expect(forward([{ type: 'syslog', url: 'tcp://s.example.com:514', facility: 24 }])).toEqual(['events.forward[0].facility: expected a whole number from 0 to 23, got 24']);
    expect(forward([{ type: 'http', url: 'https://s.example.com/i', retry: { baseDelayMs: 5000, maxDelayMs: 1000 } }])).toEqual([
      'events.forward[0].retry.maxDelayMs: expected at least retry.baseDelayMs (5000), got 1000',
    ]);
  });

  it('asks for a name when two sinks would share one, since the position in state is kept by name', () => {
    expect(
      forward([
        { type: 'http', url: 'https://siem.example.com/a' },
        { type: 'http', url: 'https://siem.example.com/b' },
      ]),
    ).toEqual(['events.forward[1].name: sinks 0 and 1 would both be named http:siem.example.com; give one a name: of its own']);
    expect(
      forward([
        { type: 'http', url: 'https://siem.example.com/a' },
        { type: 'http', url: 'https://siem.example.com/b', name: 'siem-b' },
      ]),
    ).toEqual([]);
  });

  it('sends a bearer token only over https, or to this machine', () => {
    expect(forward([{ type: 'http', url: 'http://siem.example.com/i', auth: { type: 'bearer', token: 'siem-token-123' } }])).toEqual([
      'events.forward[0].url: a bearer token is only sent over https:// (or http:// to this machine)',
    ]);
    expect(forward([{ type: 'http', url: 'http://127.0.0.1:8088/i', auth: { type: 'bearer', token: 'siem-token-123' } }])).toEqual([]);
  });

  it('never prints a secret in a message', () => {
    const messages = forward([
      { type: 'http', url: 'https://s.example.com/i', hmac: { secret: 'short-s3cr' }, auth: { type: 'bearer', token: '' } },
      { type: 'http', url: 'https://t.example.com/i', hmac: { secret: 'a-long-enough-secret', header: 'Bad Header' } },
    ]).join('\n');
    expect(messages).toContain('events.forward[0].hmac.secret: expected a secret of at least 16 characters');
    expect(messages).toContain('events.forward[1].hmac.header: expected an HTTP header name such as X-Scimsync-Signature');
    expect(messages).not.toContain('short-s3cr');
    expect(messages).not.toContain('a-long-enough-secret');
  });

  it('refuses unknown keys', () => {
    expect(forward([{ type: 'http', url: 'https://s.example.com/i', headers: { a: 'b' } }])).toEqual(['events.forward[0]: Unrecognized key: "headers"']);
  });
});

describe('notify config', () => {
  it('applies the documented defaults and turns one address into a list', () => {
    const [rule] = notifySchema.parse([{ webhook: 'https://hooks.slack.com/services/T0/B0/x', email: { to: 'ops@example.com', from: 'scimsync@example.com', smtp: { host: 'smtp.example.com' } } }]);
    expect(rule).toMatchObject({
      on: ['quarantine', 'held', 'givenUp', 'cycleFailed', 'sourceShrank'],
      format: 'json',
      repeatAfter: 86_400_000,
      timeoutMs: 10_000,
      email: { to: ['ops@example.com'], smtp: { host: 'smtp.example.com', secure: false, rejectUnauthorized: true } },
    });
    expect(notifySchema.parse([{ webhook: 'https://h.example.com/x', repeatAfter: '2h' }])[0]!.repeatAfter).toBe(7_200_000);
  });

  it('needs somewhere to send to', () => {
    expect(notify([{ on: ['held'] }])).toEqual(['notify[0]: expected webhook:, email: or both']);
  });

  it('says what it expected, and never shows the webhook URL (its path is its token)', () => {
    const messages = notify([
      { on: ['quarantined'], webhook: 'hooks.slack.com/services/T0/B0/SeCrEtPaTh' },
      { webhook: 'ftp://hooks.example.com/SeCrEtPaTh', format: 'discord' },
      { webhook: 'https://hooks.example.com/x', repeatAfter: '5s' },
    ]);
    expect(messages[0]).toMatch(/^notify\[0\]\.on\[0\]: /);
    expect(messages).toContain('notify[0].webhook: expected a URL such as https://hooks.slack.com/services/…');
    expect(messages).toContain('notify[1].webhook: expected a http:// or https:// URL, not ftp://');
    expect(messages.find((m) => m.startsWith('notify[1].format'))).toBeDefined();
    expect(messages).toContain('notify[2].repeatAfter: expected a duration from 1m to 30d such as 24h, got 5s');
    expect(messages.join('\n')).not.toContain('SeCrEtPaTh');
  });

  it('checks addresses and the SMTP host, and keeps the password out of messages', () => {
    const messages = notify([
      {
        email: {
          to: ['ops@example.com', 'not an address'],
          from: 'scimsync@example.com\r\nBcc: x@evil.example',
          smtp: { host: 'smtp.example.com:25', port: 70_000, auth: { user: 'scimsync', password: 'pw-\u0000-secret', pass: 'x' } },
        },
      },
    ]);
    expect(messages).toContain('notify[0].email.to[1]: expected an email address such as ops@example.com');
    expect(messages).toContain('notify[0].email.from: expected an email address such as ops@example.com');
    expect(messages).toContain('notify[0].email.smtp.host: expected a host name such as smtp.example.com (the port goes in port:)');
    expect(messages).toContain('notify[0].email.smtp.port: expected a whole number from 1 to 65,535, got 70000');
    expect(messages).toContain('notify[0].email.smtp.auth: Unrecognized key: "pass"');
    expect(messages.join('\n')).not.toContain('secret');
    expect(notify([{ email: { to: 'ops@example.com', from: 'scimsync@example.com', smtp: { host: '2001:db8::25' } } }])).toEqual([]);
  });
});
