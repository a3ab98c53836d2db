/**
 * Sums a `node --cpu-prof` profile's self time by function and by where the
 * code lives (a package, a scimsync directory, Node's own modules, garbage
 * collection). It samples wall time: a thread waiting in a system call counts
 * as busy there (see cpu-areas.ts for CPU alone).
 *
 *   node profile-summary.js <file.cpuprofile> [top=25] [per-unit divisor]
 *
 * With a divisor (e.g. 20000 created users), times are also shown per unit in µs.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a script lives: `axios`, `src/scim`, `node:http`, `(garbage collector)`. */
export function area(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:').split('/').slice(0, 2).join('/');
  const own = /\/dist\/((?:src|state|connectors|bench)(?:\/[^/]+)?)\//.exec(url);
  if (own) return own[1]!;
  return url.split('/').slice(-2).join('/');
}

export interface Summary {
  totalMs: number;
  byArea: { name: string; ms: number }[];
  byFunction: { name: string; ms: number }[];
}

export function summarise(path: string): Summary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') continue;
    total += us;
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
    const f = `${functionName || '(anonymous)'} ${url ? `${url.split('/').slice(-2).join('/')}:${lineNumber + 1}` : ''}`.trim();
    fns.set(f, (fns.get(f) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) => [...m].map(([name, us]) => ({ name, ms: us / 1000 })).sort((a, b) => b.ms - a.ms);
  return { totalMs: total / 1000, byArea: sorted(areas), byFunction: sorted(fns) };
}

if (process.argv[1]?.endsWith('profile-summary.js')) {
  const [file, top = '25', per] = process.argv.slice(2) as [string, string?, string?];
  const s = summarise(file);
  const unit = per ? Number(per) : undefined;
  const show = (ms: number) => `${ms.toFixed(0).padStart(7)} ms${unit ? ` ${((ms * 1000) / unit).toFixed(1).padStart(7)} µs/unit` : ''}`;
  console.log(`busy ${show(s.totalMs)}\n\nby area:`);
  for (const a of s.byArea.slice(0, Number(top))) console.log(`${show(a.ms)}  ${a.name}`);
  console.log('\nby function:');
  for (const f of s.byFunction.slice(0, Number(top))) console.log(`${show(f.ms)}  ${f.name}`);
}
