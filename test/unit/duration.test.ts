import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { parseEventFilters } from '../../src/console/filters.js';
import { parseTimeOption, parseWait } from '../../src/engine/durations.js';
import { nextRun } from '../../src/engine/schedule.js';
import { ConfigError } from '../../src/errors.js';

const config = (every: string, repeatAfter: string, sessionTtl: string) => `
integrations:
  - name: gong
    source: { type: file, path: ./directory.json }
    target: { url: https://scim.example.com/scim/v2, auth: { type: bearer, token: t } }
    schedule: { every: ${every} }
notify:
  - webhook: https://hooks.example.com/x
    repeatAfter: ${repeatAfter}
http:
  auth: { sessionTtl: ${sessionTtl} }
`;

function configError(text: string): string {
  try {
    parseConfig(text, 'scimsync.yaml', {});
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('every duration accepts milliseconds', () => {
  it('in the config: schedule.every, notify[].repeatAfter, http.auth.sessionTtl', () => {
    const c = parseConfig(config('1500ms', '7200000ms', '3600000ms'), 'scimsync.yaml', {});
    expect(nextRun(c.integrations[0]!.schedule, new Date(0))).toBe(1500);
    expect(c.notify[0]!.repeatAfter).toBe(7_200_000);
    expect(c.http?.auth?.sessionTtl).toBe('3600000ms');
  });

  it('in the config, with the same bounds as in any other unit', () => {
    expect(configError(config('40m', '5000ms', '12h'))).toContain('repeatAfter: expected a duration from 1m to 30d such as 24h, got 5000ms');
    expect(configError(config('40m', '1h', '30000ms'))).toContain('sessionTtl: expected a duration from 1m to 30d, got 30000ms');
    expect(configError(config('50ms', '1h', '12h'))).toContain('every: expected a duration from 100ms to 30d, got 50ms');
  });

  it('in the CLI: --wait and --since', () => {
    expect(parseWait('2500ms')).toBe(2500);
    expect(parseTimeOption('--since', '90000ms', Date.parse('2026-01-01T00:01:30Z'))).toBe('2026-01-01T00:00:00.000Z');
    expect(() => parseWait('5 minutes')).toThrow('--wait 5 minutes: expected a duration such as 30s, 5m or 1h');
  });

  it("in the console's event filters: since and until", () => {
    const parsed = parseEventFilters({ since: '90000ms', until: '1000ms' }, Date.parse('2026-01-01T00:01:30Z'));
    expect(parsed).toMatchObject({ ok: true, query: { since: '2026-01-01T00:00:00.000Z', until: '2026-01-01T00:01:29.000Z' } });
  });
});
