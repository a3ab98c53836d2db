import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll } from 'vitest';
import type { Workspace } from './harness.js';

/** The built CLI, as users run it. */
export const BIN = resolve('dist/src/cli/main.js');

/** Fails the file at once, with the fix, when the CLI is not built. */
export function requireBuild(): void {
  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error('build first: npm run build (npm test does it)');
  });
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** From the SIGTERM to the exit, when one was sent. */
  stopMs?: number;
}

export interface CliRunOptions {
  /** The command; `sync` unless given. */
  verb?: 'sync' | 'daemon';
  /** SIGTERM is sent once this holds (polled every 10 ms). */
  signalWhen?: () => boolean;
}

/** `scimsync <verb> --config <ws>` as its own process, with `token` as TEST_TOKEN; resolves when it exits. */
export function runBuiltCli(ws: Workspace, token: string, options: CliRunOptions = {}): Promise<CliRun> {
  const { verb = 'sync', signalWhen } = options;
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, verb, '--config', ws.configPath], { env: { PATH: process.env.PATH, TEST_TOKEN: token } });
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
      done({ code, stdout, stderr, ms: Date.now() - started, ...(signalledAt !== undefined ? { stopMs: Date.now() - signalledAt } : {}) });
    }),
  );
}

export interface CliExit {
  code: number;
  stdout: string;
  stderr: string;
}

const execAsync = promisify(execFile);

/** `scimsync <args>` as its own process, with `token` as TEST_TOKEN, run to its end. */
export async function execBuiltCli(args: string[], token: string): Promise<CliExit> {
  try {
    const { stdout, stderr } = await execAsync(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, TEST_TOKEN: token } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
