import { consoleCommand } from '../console/command.js';
import { hashPasswordCommand } from '../console/hash-password.js';
import type { ExitCode } from '../errors.js';
import type { Io } from './context.js';

/** `scimsync console`: the web console without cycles, until SIGINT/SIGTERM. */
export async function consoleVerb(o: { config?: string }, io: Io): Promise<ExitCode> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  if (io.handleSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    await consoleCommand({ ...(o.config ? { config: o.config } : {}), env: io.env, out: io.out, signal: stop.signal });
    return 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** `scimsync console hash-password`: the hash of a console password, or a new API token and its hash. */
export async function hashPasswordVerb(o: { token?: boolean }, io: Io): Promise<ExitCode> {
  await hashPasswordCommand({ token: o.token ?? false }, { input: process.stdin, out: io.out, prompt: (t) => process.stderr.write(t) });
  return 0;
}
