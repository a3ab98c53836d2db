/**
 * `events.forward` and `notify` in a whole config, as `parseConfig` reads it:
 * the defaults, one line naming the key for each bad value, and no secret in any message.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const integration = `
integrations:
  - name: gong
    source: { type: file, path: ./directory.json }
    target: { url: https://scim.example.com/scim/v2, auth: { type: bearer, token: scim-token-1 } }
`;

const ENV = { SIEM_TOKEN: 'siem-token-7f3a', HOOK: 'https://hooks.slack.com/services/T000/B000/XXXXsecretpath', SMTP_PASSWORD: 'smtp-pw-9c2e' };

function error(text: string): string {
  try {
    parseConfig(text, 'scimsync.yaml', ENV);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('events.forward and notify in the config', () => {
  it('loads sinks and rules with their defaults, secrets from the environment', () => {
    const c = parseConfig(
      `${integration}
events:
  retainDays: 30
  maxRows: 5000000
  forward:
    - { type: http, url: https://siem.example.com/ingest, auth: { type: bearer, token: "\${SIEM_TOKEN}" } }
    - { type: syslog, url: "tls://siem.example.com:6514", name: siem-syslog }
notify:
  - { on: [quarantine, cycleFailed], webhook: "\${HOOK}", format: slack }
  - email:
      to: ops@example.com
      from: scimsync@example.com
      smtp: { host: smtp.example.com, port: 587, auth: { user: scimsync, password: "\${SMTP_PASSWORD}" } }
`,
      'scimsync.yaml',
      ENV,
    );
    expect(c.events.retainDays).toBe(30);
    expect(c.events.maxRows).toBe(5_000_000);
    expect(c.events.forward).toHaveLength(2);
    expect(c.events.forward[0]).toMatchObject({ type: 'http', batchSize: 500, flushMs: 1000, auth: { token: 'siem-token-7f3a' } });
    expect(c.events.forward[1]).toMatchObject({ type: 'syslog', name: 'siem-syslog', facility: 13, batchSize: 100 });
    expect(c.notify[0]).toMatchObject({ on: ['quarantine', 'cycleFailed'], format: 'slack', repeatAfter: 86_400_000 });
    expect(c.notify[1]!.on).toEqual(['quarantine', 'held', 'givenUp', 'cycleFailed', 'sourceShrank']);
    expect(c.notify[1]!.email).toMatchObject({ to: ['ops@example.com'], smtp: { host: 'smtp.example.com', secure: false } });
  });

  it('has no sinks and no rules when the keys are absent', () => {
    const c = parseConfig(integration, 'scimsync.yaml', ENV);
    expect(c.events.forward).toEqual([]);
    expect(c.notify).toEqual([]);
  });

  it('refuses a bad sink with one line naming its key', () => {
    const cases: [string, RegExp][] = [
      ['events: { forward: [{ type: kafka, url: "https://x.example.com" }] }', /^\[scimsync\] config: scimsync\.yaml: events\.forward\[0\]\.type: /],
      ['events: { forward: [{ type: http, url: "ftp://siem.example.com/x" }] }', /^\[scimsync\] config: scimsync\.yaml: events\.forward\[0\]\.url: expected a http:\/\/ or https:\/\/ URL, not ftp:\/\/$/],
      ['events: { forward: [{ type: syslog, url: "tcp://siem.example.com:514", facility: 40 }] }', /events\.forward\[0\]\.facility: expected a whole number from 0 to 23, got 40$/],
      ['events: { forward: [{ type: http, url: "https://siem.example.com/i", batchSize: 0 }] }', /events\.forward\[0\]\.batchSize: expected a whole number from 1 to 10,000, got 0$/],
      ['events: { forward: [{ type: http, url: "https://siem.example.com/i", colour: red }] }', /events\.forward\[0\]\.colour: unknown key$/],
      ['events: { forward: { type: http } }', /events\.forward: expected array/],
    ];
    for (const [yaml, expected] of cases) {
      const message = error(`${integration}${yaml}\n`);
      expect(message.split('\n'), message).toHaveLength(1);
      expect(message).toMatch(expected);
    }
  });

  it('refuses a bad rule with one line naming its key', () => {
    const cases: [string, RegExp][] = [
      ['notify: [{ on: [quarantine] }]', /notify\[0\]: expected webhook:, email: or both$/],
      ['notify: [{ on: [reboot], webhook: "https://hooks.example.com/x" }]', /notify\[0\]\.on\[0\]: /],
      ['notify: [{ webhook: "https://hooks.example.com/x", repeatAfter: 5s }]', /notify\[0\]\.repeatAfter: expected a duration from 1m to 30d such as 24h, got 5s$/],
      ['notify: [{ email: { to: nobody, from: a@example.com, smtp: { host: smtp.example.com } } }]', /notify\[0\]\.email\.to: /],
      ['notify: { webhook: "https://hooks.example.com/x" }', /notify: expected array/],
    ];
    for (const [yaml, expected] of cases) {
      const message = error(`${integration}${yaml}\n`);
      expect(message.split('\n'), message).toHaveLength(1);
      expect(message).toMatch(expected);
    }
  });

  it('never shows a token, a webhook URL or an SMTP password in a message', () => {
    const token = error(`${integration}events: { forward: [{ type: http, url: "http://siem.example.com/i", auth: { type: bearer, token: "\${SIEM_TOKEN}" } }] }\n`);
    expect(token).toMatch(/events\.forward\[0\]\.url: a bearer token is only sent over https:\/\//);
    expect(token).not.toContain(ENV.SIEM_TOKEN);
    const hook = error(`${integration}notify: [{ webhook: "\${HOOK}", format: discord }]\n`);
    expect(hook).toMatch(/notify\[0\]\.format: /);
    expect(hook).not.toContain('XXXXsecretpath');
    const smtp = error(`${integration}notify: [{ email: { to: ops@example.com, from: a@example.com, smtp: { host: "smtp.example.com:25", auth: { user: u, password: "\${SMTP_PASSWORD}" } } } }]\n`);
    expect(smtp).toMatch(/notify\[0\]\.email\.smtp\.host: expected a host name such as smtp\.example\.com \(the port goes in port:\)$/);
    expect(smtp).not.toContain(ENV.SMTP_PASSWORD);
    const userinfo = error(`${integration}events: { forward: [{ type: http, url: "https://ada:pa55w0rd@siem.example.com/i" }] }\n`);
    expect(userinfo).toMatch(/events\.forward\[0\]\.url: a user or password in the URL is not allowed/);
    expect(userinfo).not.toContain('pa55w0rd');
  });
});
