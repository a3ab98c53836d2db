import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';

const run = promisify(execFile);
const BIN = resolve('dist/src/cli/main.js');

async function scimsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let target: DevTarget;
beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error('build first: npm run build (npm test does it)');
  target = await startDevTarget({ token: 'bin-token', strict: true });
});
afterAll(() => target.stop());

describe('the built scimsync command', () => {
  it('syncs the example directory and lists the events', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scimsync-bin-'));
    const config = join(dir, 'scimsync.yaml');
    writeFileSync(
      config,
      `state: { path: ${join(dir, 'state.db')} }\nlog: { level: warn, format: json }\nintegrations:\n  - name: demo\n    source: { type: file, path: ${resolve('examples/directory.json')} }\n    target:\n      url: ${target.url}\n      auth: { type: bearer, token: "\${TOKEN}" }\n      rateLimit: { requestsPerSecond: 500, maxConcurrent: 4 }\n`,
    );
    const sync = await scimsync(['sync', '--config', config], { TOKEN: 'bin-token' });
    expect(sync.stderr).toBe('');
    expect(sync.code).toBe(0);
    expect(sync.stdout).toMatch(/\[integration demo\] success: created 11, adopted 0/);
    expect(target.users.size).toBe(11);
    const events = await scimsync(['events', '--config', config, '--type', 'user_create_provision', '--json'], { TOKEN: 'bin-token' });
    const parsed = events.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; result: string });
    expect(parsed).toHaveLength(11);
    expect(parsed.every((e) => e.type === 'user_create_provision' && e.result === 'success')).toBe(true);
    expect(events.stdout).not.toContain('bin-token');
  });

  it('exits 2 with one line and no stack trace on a bad config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scimsync-bin-'));
    const config = join(dir, 'scimsync.yaml');
    writeFileSync(config, 'integrations:\n  - name: x\n    source: { type: file, path: a.json }\n    target: { url: "not a url", auth: { type: bearer, token: t } }\n');
    const res = await scimsync(['sync', '--config', config]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/integrations\[0\]\.target\.url/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 on an unknown command option', async () => {
    const res = await scimsync(['sync', '--bogus']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/unknown option '--bogus'/);
  });

  it('shows a progress bar on a terminal, and none when piped', async () => {
    if (!existsSync('/usr/bin/script')) throw new Error('util-linux script is needed to give the CLI a terminal');
    const dir = mkdtempSync(join(tmpdir(), 'scimsync-bin-'));
    const users = Array.from({ length: 60 }, (_, i) => ({ id: `p${i}`, userName: `p${i}@example.com`, givenName: 'P', familyName: `N${i}`, email: `p${i}@example.com` }));
    writeFileSync(join(dir, 'd.json'), JSON.stringify({ users }));
    const config = join(dir, 'scimsync.yaml');
    writeFileSync(
      config,
      `state: { path: ${join(dir, 'state.db')} }\nlog: { level: warn }\nintegrations:\n  - name: tty\n    source: { type: file, path: ${join(dir, 'd.json')} }\n    target:\n      url: ${target.url}\n      auth: { type: bearer, token: bin-token }\n      rateLimit: { requestsPerSecond: 100, maxConcurrent: 2 }\n`,
    );
    const onTty = await run('/usr/bin/script', ['-qec', `${process.execPath} ${BIN} sync --config ${config}`, '/dev/null'], { env: { PATH: process.env.PATH } });
    expect(onTty.stdout).toMatch(/\[tty\] .* \d+\/60 operations \| [\d.]+\/s \| ETA .* \| failed 0/);
    expect(onTty.stdout).toMatch(/success: created 60/);
    users.push({ id: 'p60', userName: 'p60@example.com', givenName: 'P', familyName: 'N60', email: 'p60@example.com' });
    writeFileSync(join(dir, 'd.json'), JSON.stringify({ users }));
    const piped = await scimsync(['sync', '--config', config]);
    expect(piped.stdout + piped.stderr).not.toMatch(/operations \|/);
    expect(piped.stdout).toMatch(/created 1,/);
  });
});

