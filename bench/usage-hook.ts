/**
 * Preloaded into a measured process (`node --import usage-hook.js ...`): when the
 * process exits, writes its CPU time (every thread, from getrusage; the main
 * thread's alone, from /proc) and its peak resident memory (VmHWM, from
 * /proc) as one JSON line to $SCIMSYNC_BENCH_USAGE.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

// `--import` runs in worker threads too: only the main thread reports.
const out = isMainThread ? process.env.SCIMSYNC_BENCH_USAGE : undefined;

/** Peak RSS in MB: VmHWM where /proc has it, getrusage's maxRSS elsewhere. */
function peakRssMb(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** The main thread's own CPU in µs, from /proc (ticks of 10 ms); undefined off Linux. */
function mainThreadUs(): number | undefined {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}

/** With $SCIMSYNC_BENCH_MEMORY set: the main thread's heap and buffers when RSS was highest, sampled every 100 ms. */
let atPeak: NodeJS.MemoryUsage | undefined;
if (out && process.env.SCIMSYNC_BENCH_MEMORY) {
  setInterval(() => {
    const m = process.memoryUsage();
    if (!atPeak || m.rss > atPeak.rss) atPeak = m;
  }, 100).unref();
}

if (out) {
  process.on('exit', (code) => {
    const u = process.resourceUsage();
    const mb = (n: number) => Math.round(n / 2 ** 20);
    const memory = atPeak && { rssMb: mb(atPeak.rss), heapUsedMb: mb(atPeak.heapUsed), heapTotalMb: mb(atPeak.heapTotal), externalMb: mb(atPeak.external), arrayBuffersMb: mb(atPeak.arrayBuffers) };
    writeFileSync(out, JSON.stringify({ userUs: u.userCPUTime, systemUs: u.systemCPUTime, mainUs: mainThreadUs(), peakRssMb: peakRssMb(), memory, code }) + '\n');
  });
}
