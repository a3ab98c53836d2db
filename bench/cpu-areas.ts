/**
 * Where a process's CPU goes, from `perf` (Linux): unlike `--cpu-prof`, which
 * samples wall time and so counts a thread waiting in a system call or
 * preempted by the target, `perf`'s cpu-clock samples only a thread on a CPU.
 *
 *   perf record -e cpu-clock -F 999 -g -o run.data -- node --perf-basic-prof <script> ...
 *   node cpu-areas.js run.data [per-unit divisor] [top=25]
 *
 * Each sample counts for the nearest JavaScript frame from the leaf, by where
 * that code lives (a package, a scimsync file, a Node module): a builtin, a
 * JSON parse or an allocation is charged to the code that called it. Samples
 * with no JavaScript frame are V8's garbage collector or compiler (its helper
 * threads), or libuv and the kernel. Threads: the main one, then the others.
 */
import { execFileSync } from 'node:child_process';

const JS_FRAME = /JS:[*^~+]?(\S*) (\S+)/;

/** A package, a scimsync file (`src/delivery/users.js`), or a Node module (`node:_http_client`). */
export function areaOf(location: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(location);
  if (pkg) return pkg[1]!;
  const own = /\/dist\/((?:src\/[^/]+|state|connectors|bench)\/[^/:]+)/.exec(location);
  if (own) return own[1]!;
  if (location.startsWith('node:')) return `node:${location.slice(5).replace(/^internal\//, '').split(/[/:]/)[0]}`;
  return location.split('/').at(-1)!.split(':')[0]!;
}

function nativeKind(frames: string[]): string {
  const text = frames.join(' ');
  if (/Scaveng|MarkCompact|Marking|Sweeper|Heap::|Evacuat|GCTracer|MemoryAllocator/.test(text)) return '(V8 garbage collector)';
  if (/compiler::|Compile|Turbofan|Maglev|Optimiz/.test(text)) return '(V8 compiler)';
  if (/sqlite3/.test(text)) return '(SQLite, no JS frame)';
  return '(libuv, kernel, other native)';
}

export interface CpuAreas {
  threads: { main: boolean; ms: number; areas: Map<string, number> }[];
}

export function cpuAreas(data: string): CpuAreas {
  const text = execFileSync('perf', ['script', '-i', data, '-F', 'tid,period,ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
  let main: number | undefined;
  const byThread = new Map<number, Map<string, number>>();
  let period = 0;
  for (const sample of text.split('\n\n')) {
    const lines = sample.split('\n').filter((l) => l.trim());
    if (!lines.length) continue;
    const [tid, p] = lines[0]!.trim().split(/\s+/).map(Number) as [number, number];
    main ??= tid;
    period ||= p;
    const frames = lines.slice(1);
    const js = frames.map((f) => JS_FRAME.exec(f)).find(Boolean);
    const area = js ? areaOf(js[2]!) : nativeKind(frames);
    const areas = byThread.get(tid) ?? new Map<string, number>();
    areas.set(area, (areas.get(area) ?? 0) + 1);
    byThread.set(tid, areas);
  }
  // cpu-clock's period is in ns: samples × period = CPU time.
  const ms = (n: number) => (n * period) / 1e6;
  const others = new Map<string, number>();
  for (const [tid, areas] of byThread) if (tid !== main) for (const [a, n] of areas) others.set(a, (others.get(a) ?? 0) + n);
  const mainAreas = byThread.get(main!) ?? new Map<string, number>();
  const inMs = (m: Map<string, number>) => new Map([...m].map(([a, n]) => [a, ms(n)]));
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  return {
    threads: [
      { main: true, ms: ms(total(mainAreas)), areas: inMs(mainAreas) },
      { main: false, ms: ms(total(others)), areas: inMs(others) },
    ],
  };
}

if (process.argv[1]?.endsWith('cpu-areas.js')) {
  const [data, per, top = '25'] = process.argv.slice(2) as [string, string?, string?];
  const unit = per ? Number(per) : undefined;
  const show = (ms: number) => `${ms.toFixed(0).padStart(7)} ms${unit ? ` ${((ms * 1000) / unit).toFixed(1).padStart(7)} µs/unit` : ''}`;
  for (const t of cpuAreas(data).threads) {
    console.log(`${t.main ? 'main thread' : 'other threads'}: ${show(t.ms)}`);
    for (const [a, ms] of [...t.areas].sort((x, y) => y[1] - x[1]).slice(0, Number(top))) console.log(`${show(ms)}  ${a}`);
    console.log('');
  }
}
