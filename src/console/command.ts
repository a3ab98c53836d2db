import { loadConfig } from '../config/load.js';
import { loadConnected } from '../engine/index.js';
import type { Role } from '../engine/index.js';
import { ConfigError, errorMessage } from '../errors.js';
import { createLogger } from '../log.js';
import { createConsoleApp } from './app.js';
import { checkHttpConfig, httpConfigSchema, type HttpConfig } from '../config/http.js';
import { configSecrets } from './secrets.js';
import { startConsoleServer } from './server.js';

export interface ConsoleCommandOptions {
  config?: string;
  env: NodeJS.ProcessEnv;
  /** Where the console's URL is printed (stdout). */
  out: (line: string) => void;
  /** Stops the console (SIGINT/SIGTERM in the CLI; tests abort it). */
  signal: AbortSignal;
}

/** The `http` block as the console needs it, from a config that may predate the merged schema (a bare `{ listen }`). */
export function httpConfigOf(http: unknown): HttpConfig {
  const parsed = httpConfigSchema.safeParse(http ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('');
    throw new ConfigError(`http${at}: ${issue.message}`);
  }
  checkHttpConfig(parsed.data);
  return parsed.data;
}

/** Where `startConsole` serves, and how it is told which state and whom to let act. */
export interface StartConsoleOptions {
  config?: string;
  env: NodeJS.ProcessEnv;
  /** The role of a user on loopback without `http.auth`: `viewer` shows and lets no one act (the demo). Default admin. */
  loopbackRole?: Role;
}

/** A console serving, without cycles: its URL, and how to stop it (the server, then the state). */
export interface RunningConsole {
  url: string;
  close(): Promise<void>;
}

/**
 * The console of `scimsync console` on `http.listen` (port 0: a free one), with
 * a state connection of its own. A non-loopback listen without `http.auth` is
 * a ConfigError (exit 2) before anything listens.
 */
export async function startConsole(options: StartConsoleOptions): Promise<RunningConsole> {
  const { config } = loadConfig(options.config, options.env);
  const http = httpConfigOf(config.http);
  const logger = createLogger({ level: config.log.level, format: config.log.format });
  const { openEngineConsoleBackend } = await loadConnected();
  const { backend, close } = openEngineConsoleBackend({ config, logger });
  try {
    const app = createConsoleApp({
      backend,
      http,
      secrets: () => configSecrets(config),
      onError: (err) => logger.error(`console: ${errorMessage(err)}`),
      ...(options.loopbackRole ? { loopbackRole: options.loopbackRole } : {}),
    });
    const server = await startConsoleServer({ app, listen: http.listen });
    return {
      url: server.url,
      close: async () => {
        await server.close();
        close();
      },
    };
  } catch (err) {
    close();
    throw err;
  }
}

/**
 * `scimsync console`: the console on `http.listen`, without the daemon's
 * cycles, for a workstation. Runs until `signal` aborts.
 */
export async function consoleCommand(options: ConsoleCommandOptions): Promise<void> {
  const running = await startConsole({ ...(options.config ? { config: options.config } : {}), env: options.env });
  try {
    options.out(`[scimsync] console on ${running.url}/ (cycles run in the daemon, not here)`);
    await new Promise<void>((resolve) => {
      if (options.signal.aborted) resolve();
      else options.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    await running.close();
  }
}
