import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `npm run demo` off a terminal (CI, tests): it syncs the example directory,
 * serves the console read-only, prints its URL, checks that it answers, and ends.
 */
describe('npm run demo', () => {
  it('prints the console URL, the console answers, and the demo ends on its own', async () => {
    const child = spawn(process.execPath, [resolve('node_modules/tsx/dist/cli.mjs'), 'demo/demo.ts'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code, err).toBe(0);
    const url = /^web console of this state: (http:\/\/127\.0\.0\.1:\d+)\/$/m.exec(out)?.[1];
    expect(url, out).toBeDefined();
    expect(out).toContain('console answered: demo healthy');
    // It ended, and its console with it.
    await expect(fetch(`${url}/`)).rejects.toThrow();
  }, 90_000);
});
