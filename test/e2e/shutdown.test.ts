import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, workspace, type Workspace } from '../support/harness.js';

const BIN = resolve('dist/src/cli/main.js');
const TOKEN = 'trickle-token';

let target: DevTarget | undefined;

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error('build first: npm run build (npm test does it)');
});
afterEach(async () => {
  await target?.stop();
  target = undefined;
});

/** From the SIGTERM to the exit, in the last run that was signalled. */
let stopMs = 0;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `scimsync sync` as its own process; SIGTERM is sent to it once `signalWhen` holds. */
function runSync(ws: Workspace, signalWhen?: () => boolean): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, 'sync', '--config', ws.configPath], { env: { PATH: process.env.PATH, TEST_TOKEN: TOKEN } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let signalledAt: number | undefined;
  const poll = setInterval(() => {
    if (signalWhen?.() && signalledAt === undefined) {
      signalledAt = Date.now();
      child.kill('SIGTERM');
    }
  }, 10);
  return new Promise((done) =>
    child.on('exit', (code) => {
      clearInterval(poll);
      if (signalledAt !== undefined) stopMs = Date.now() - signalledAt;
      done({ code, stdout, stderr, ms: Date.now() - started });
    }),
  );
}

/** A target whose answers to creates trickle in, one byte a second. */
async function trickling(extraYaml: string): Promise<Workspace> {
  target = await startDevTarget({ token: TOKEN, strict: true });
  target.inject({ method: 'POST', path: /\/Users$/, trickle: { intervalMs: 1_000 } });
  target.inject({ method: 'GET', path: /\/Users\?filter/, trickle: { intervalMs: 1_000 } });
  const ws = workspace(target.url, TOKEN);
  ws.writeConfig({ targetYaml: extraYaml });
  ws.writeDirectory(makeDirectory(2));
  return ws;
}

describe('a target that trickles its answers', () => {
  it('cannot keep a request open past timeoutMs: the sync ends by itself', async () => {
    const ws = await trickling('timeoutMs: 500');
    const run = await runSync(ws);
    expect(run.code).toBe(1);
    // Two users, each a create and the look-ups that follow a lost answer: a few timeouts of 0.5 s, not minutes.
    expect(run.ms).toBeLessThan(15_000);
    expect(run.stdout).toMatch(/failed 2/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('cannot hold a SIGTERM past the shutdown grace: the summary is printed and the process exits', async () => {
    const ws = await trickling('timeoutMs: 600000');
    const config = (await import('node:fs')).readFileSync(ws.configPath, 'utf8');
    (await import('node:fs')).writeFileSync(ws.configPath, `${config}shutdown: { graceMs: 1000 }\n`);
    // SIGTERM while a create trickles in: the request would take minutes, the grace is 1 s.
    const run = await runSync(ws, () => target!.concurrency.now > 0);
    expect(run.code).toBe(1);
    expect(stopMs).toBeLessThan(5_000);
    expect(run.stdout).toMatch(/interrupted/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);
});
