import { loadConfig } from '../config/load.js';
import type { Config, IntegrationConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { type StateStore, openStateStore } from '../../state/index.js';

/** Where a command writes: injectable so tests can run the CLI in-process. */
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  isTty: boolean;
  env: NodeJS.ProcessEnv;
  /** Whether commands install SIGINT/SIGTERM handlers (the real process, not in-process tests). */
  handleSignals?: boolean;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  isTty: Boolean(process.stdout.isTTY),
  env: process.env,
  handleSignals: true,
};

export interface CommandContext {
  config: Config;
  logger: Logger;
  store: StateStore;
}

export function openContext(configPath: string | undefined, io: Io, quiet = false): CommandContext {
  const { config } = loadConfig(configPath, io.env);
  const logger = createLogger({ level: config.log.level, format: config.log.format, silent: quiet });
  const store = openStateStore(config.state.path);
  return { config, logger, store };
}

export function selectIntegrations(config: Config, name: string | undefined): IntegrationConfig[] {
  if (name === undefined) return config.integrations;
  const found = config.integrations.filter((i) => i.name === name);
  if (found.length === 0) {
    throw new ConfigError(`--integration ${name}: no such integration (have: ${config.integrations.map((i) => i.name).join(', ')})`);
  }
  return found;
}
