/**
 * Runs a Node program in a process of its own and measures it from outside:
 * wall time from spawn to exit (process start included), and, through the
 * preloaded usage hook, its CPU time (every thread) and peak RSS.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export interface Measured {
  wallMs: number;
  /** User + system CPU of the whole process, its worker threads included. */
  cpuMs: number;
  peakRssMb: number;
  /** With `memory: true`: the main thread's memory when RSS was highest (sampled every 100 ms). */
  atPeak?: { rssMb: number; heapUsedMb: number; heapTotalMb: number; externalMb: number; arrayBuffersMb: number } | undefined;
  /** CPU of the main thread alone (from /proc, Linux only; else all of it): the rest is other threads' (the writer, GC helpers). */
  mainCpuMs: number;
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface MeasureOptions {
  /** Node flags before the script (`--cpu-prof`, `--max-old-space-size=…`). */
  nodeFlags?: string[];
  env?: Record<string, string>;
  /** Sample the main thread's heap, to tell at the RSS peak what is JavaScript heap and what is not. */
  memory?: boolean;
}

export function measure(script: string, args: string[], options: MeasureOptions = {}): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'scimsync-usage-'));
  const usageFile = join(dir, 'usage.json');
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), '--import', join(here, 'usage-hook.js'), script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env, SCIMSYNC_BENCH_USAGE: usageFile, ...(options.memory ? { SCIMSYNC_BENCH_MEMORY: '1' } : {}) },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      try {
        const u = JSON.parse(readFileSync(usageFile, 'utf8')) as { userUs: number; systemUs: number; mainUs?: number; peakRssMb: number; memory?: Measured['atPeak'] };
        const cpuMs = (u.userUs + u.systemUs) / 1000;
        resolve({ wallMs, cpuMs, mainCpuMs: u.mainUs === undefined ? cpuMs : u.mainUs / 1000, peakRssMb: u.peakRssMb, atPeak: u.memory, exitCode: code ?? -1, stdout, stderr });
      } catch {
        reject(new Error(`${script} ${args.join(' ')} exited ${code} without its usage: ${stderr.slice(0, 500)}`));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
