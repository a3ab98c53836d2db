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
