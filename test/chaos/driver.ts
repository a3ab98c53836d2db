import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { RunResult } from './invariants.js';

/**
 * What runs one cycle of the engine under test. The campaign knows only this:
 * today a `scimsync sync` process per cycle; later N daemons, or incremental cycles.
 */
export interface CycleDriver {
  readonly name: string;
  runCycle(options: CycleRunOptions): Promise<RunResult>;
}

export interface CycleRunOptions {
  /** Kill or stop the run this long after its start. */
  signal?: { signal: 'SIGKILL' | 'SIGTERM'; atMs: number };
  /** Past this the run is a hang: it is killed and reported. */
  boundMs: number;
  /** Run it with --force: past a safety rule that held the cycle (an admin's confirmation). */
  force?: boolean;
}

export interface CliDriverOptions {
  /** The built CLI: dist/src/cli/main.js of this tree, or another checkout's. */
  cli: string;
  configPath: string;
  /** The child's environment (the target token). */
  env: Record<string, string>;
}

/** Runs `node <cli> sync --config <file>` as a child process. */
export function cliDriver(options: CliDriverOptions): CycleDriver {
  return {
    name: `cli ${options.cli}`,
    runCycle: ({ signal, boundMs, force }) =>
      new Promise((resolve) => {
        const started = performance.now();
        const child = spawn(process.execPath, [options.cli, 'sync', '--config', options.configPath, ...(force ? ['--force'] : [])], {
          env: { PATH: process.env.PATH ?? '', ...options.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        let sent: RunResult['sent'];
        let timedOut = false;
        const timers = [
          setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, boundMs),
          ...(signal
            ? [
                setTimeout(() => {
                  sent = { signal: signal.signal, atMs: Math.round(performance.now() - started) };
                  child.kill(signal.signal);
                }, signal.atMs),
              ]
            : []),
        ];
        child.on('close', (code, sig) => {
          for (const t of timers) clearTimeout(t);
          resolve({ code, signal: sig, durationMs: Math.round(performance.now() - started), stdout, stderr, timedOut, ...(sent ? { sent } : {}) });
        });
      }),
  };
}
