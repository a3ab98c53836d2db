import { appendFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { consoleCommand } from '../../src/console/command.js';
import { ConfigError } from '../../src/errors.js';
import { makeDirectory, workspace } from '../support/harness.js';

const TOKEN = 'command-test-token';

function configured(listen: string) {
  const ws = workspace('http://127.0.0.1:1/scim/v2', TOKEN);
  ws.writeDirectory(makeDirectory(2));
  ws.writeConfig();
  appendFileSync(ws.configPath, `http: { listen: "${listen}" }\n`);
  return ws;
}

describe('scimsync console', () => {
  it('serves the console on http.listen until stopped, and prints where', async () => {
    const ws = configured('127.0.0.1:0');
    const out: string[] = [];
    const stop = new AbortController();
    const running = consoleCommand({ config: ws.configPath, env: { TEST_TOKEN: TOKEN }, out: (l) => out.push(l), signal: stop.signal });
    await expect.poll(() => out.length).toBe(1);
    const url = /console on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out[0]!)![1]!;
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('data-integration="app"');
    expect(html).not.toContain(TOKEN);
    stop.abort();
    await running;
    await expect(fetch(`${url}/`)).rejects.toThrow();
  });

  it('refuses to listen beyond loopback without http.auth: exit 2, one line naming http.listen', async () => {
    const ws = configured('0.0.0.0:0');
    const err = await consoleCommand({ config: ws.configPath, env: { TEST_TOKEN: TOKEN }, out: () => undefined, signal: new AbortController().signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    // Refused when the config loads, naming the file and the key.
    expect((err as ConfigError).message).toMatch(
      /^\[scimsync\] config: \S*scimsync\.yaml: http\.listen 0\.0\.0\.0:0: listening beyond loopback requires http\.auth with at least one user or API token \(scimsync console hash-password makes a password hash\)$/,
    );
  });
});
