import type { Writable } from 'node:stream';

/** Where a command writes: injectable so tests can run the CLI and the daemon in-process. */
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  isTty: boolean;
  env: NodeJS.ProcessEnv;
  /** Whether commands install SIGINT/SIGTERM handlers (the real process, not in-process tests). */
  handleSignals?: boolean;
}

/** The process's own stdout, stderr and environment. */
export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  isTty: Boolean(process.stdout.isTTY),
  env: process.env,
  handleSignals: true,
};

/** Resolves when `out` drains, closes or fails (the caller's own error listener tells which), and leaves no listener behind. */
export function drained(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
    out.on('error', done);
  });
}
