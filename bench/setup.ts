/**
 * What the benchmark parts share: the fast target in its own process, its
 * counters, and config files for `scimsync` pointing at it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
/** The built CLI, as an operator runs it. */
export const CLI = resolve(here, '../src/cli/main.js');

export interface Target {
  url: string;
  child: ChildProcess;
}

export async function startTarget(): Promise<Target> {
  const child = spawn(process.execPath, [join(here, 'fast-target.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((res) => child.stdout!.once('data', (c: Buffer) => res(c.toString().trim())));
  return { url, child };
}

const base = (url: string) => url.replace(/\/scim\/v2$/, '');

export interface TargetStats {
  counts: Record<string, number>;
  users: number;
  groups: number;
  members: number;
}

export async function stats(url: string): Promise<TargetStats> {
  return (await (await fetch(`${base(url)}/_stats`)).json()) as TargetStats;
}

export async function reset(url: string): Promise<void> {
  await fetch(`${base(url)}/_reset`, { method: 'POST' });
}

export const requestsOf = (s: TargetStats): number => Object.values(s.counts).reduce((a, b) => a + b, 0);

export interface BenchConfig {
  /** The config file to pass to `scimsync --config`. */
  path: string;
  /** Its state database. */
  state: string;
}

export function configFile(work: string, name: string, directory: string, url: string, concurrency = 8): BenchConfig {
  const path = join(work, `${name}.yaml`);
  const state = join(work, `${name}.db`);
  writeFileSync(
    path,
    [
      `state: { path: ${state} }`,
      'log: { level: error }',
      'integrations:',
      `  - name: ${name}`,
      `    source: { type: file, path: ${directory} }`,
      '    target:',
      `      url: ${url}`,
      '      auth: { type: bearer, token: bench }',
      `      rateLimit: { requestsPerSecond: 1000000, maxConcurrent: ${concurrency} }`,
      '    safety: { maxDeletes: 1000000, minSourceRatio: 0 }',
      '',
    ].join('\n'),
  );
  return { path, state };
}

/** Deletes a state database and its log, for a first run. */
export function freshState(config: BenchConfig): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${config.state}${suffix}`, { force: true });
}
