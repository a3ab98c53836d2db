/**
 * Client cost against the floor: the initial push of `n` users at one
 * concurrency, sent by a raw keep-alive `node:http` loop (the floor), by the
 * same loop on axios (its own adapter, then scimsync's), through scimsync's
 * ScimClient, and by `scimsync sync` itself. Each run is a process of its own,
 * measured from spawn to exit; the clients take turns, in a rotating order,
 * and each figure is a median.
 */
import { join } from 'node:path';
import { median, measure, type Measured } from './measure.js';
import { CLI, configFile, freshState, here, reset, stats } from './setup.js';

export interface ClientMode {
  key: 'node-http' | 'axios-node' | 'axios' | 'client' | 'sync';
  label: string;
}

export const MODES: ClientMode[] = [
  { key: 'node-http', label: 'raw keep-alive `node:http` loop (the floor)' },
  { key: 'axios-node', label: "the same loop on axios, with axios' own Node adapter" },
  { key: 'axios', label: "the same loop on axios with scimsync's options (scimsync's adapter)" },
  { key: 'client', label: "the same loop through scimsync's `ScimClient.createUser`" },
  { key: 'sync', label: '`scimsync sync` (whole cycle)' },
];

export interface ClientRow {
  mode: ClientMode;
  wallMs: number;
  /** Median CPU per created user, every thread, in µs. */
  cpuUs: number;
  mainUs: number;
  /** The writer thread, garbage collection helpers, … */
  otherUs: number;
  peakRssMb: number;
  runs: Measured[];
}

export interface ClientCostOptions {
  work: string;
  url: string;
  directory: string;
  users: number;
  concurrency: number;
  runs: number;
  /** `node --cpu-prof` on every run, profiles written to this folder. */
  profileDir?: string | undefined;
}

export async function clientCost(options: ClientCostOptions): Promise<ClientRow[]> {
  const { work, url, directory, users, concurrency, runs } = options;
  const config = configFile(work, 'client-cost', directory, url, concurrency);
  const measured = new Map<ClientMode['key'], Measured[]>(MODES.map((m) => [m.key, []]));
  for (let r = 0; r < runs; r++) {
    // A rotating order: no client always runs first, or right after the heaviest.
    const order = MODES.map((_, i) => MODES[(i + r) % MODES.length]!);
    for (const mode of order) {
      await reset(url);
      const nodeFlags = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(options.profileDir, mode.key)}`] : [];
      let m: Measured;
      if (mode.key === 'sync') {
        freshState(config);
        m = await measure(CLI, ['sync', '--config', config.path], { nodeFlags });
      } else {
        m = await measure(join(here, 'client-loop.js'), [mode.key, directory, url, String(concurrency)], { nodeFlags });
      }
      const created = (await stats(url)).users;
      if (m.exitCode !== 0 || created !== users) {
        throw new Error(`${mode.key}: exit ${m.exitCode}, ${created} of ${users} users created\n${m.stdout.slice(-500)}${m.stderr.slice(-1000)}`);
      }
      measured.get(mode.key)!.push(m);
      console.error(`  client cost, run ${r + 1}/${runs}, ${mode.key}: ${(m.wallMs / 1000).toFixed(2)} s, ${Math.round((m.cpuMs * 1000) / users)} µs CPU per user`);
    }
  }
  return MODES.map((mode) => {
    const ms = measured.get(mode.key)!;
    return {
      mode,
      wallMs: median(ms.map((m) => m.wallMs)),
      cpuUs: median(ms.map((m) => (m.cpuMs * 1000) / users)),
      mainUs: median(ms.map((m) => (m.mainCpuMs * 1000) / users)),
      otherUs: median(ms.map((m) => ((m.cpuMs - m.mainCpuMs) * 1000) / users)),
      peakRssMb: median(ms.map((m) => m.peakRssMb)),
      runs: ms,
    };
  });
}

export function clientTable(rows: ClientRow[]): string[] {
  const floor = rows.find((r) => r.mode.key === 'node-http')!;
  const lines = [
    '| client | wall (process start included) | floor / wall | CPU per created user | of which main thread | other threads | peak RSS |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.mode.label} | ${(r.wallMs / 1000).toFixed(2)} s | ${(floor.wallMs / r.wallMs).toFixed(2)} | ${Math.round(r.cpuUs)} µs | ${Math.round(r.mainUs)} µs | ${Math.round(r.otherUs)} µs | ${Math.round(r.peakRssMb)} MB |`,
    );
  }
  return lines;
}
