import { loadConfig } from '../config/load.js';
import type { Config, IntegrationConfig } from '../config/schema.js';
import { openState } from '../engine/index.js';
import type { StateStore } from '../engine/index.js';
import { ConfigError } from '../errors.js';
import type { Io } from '../io.js';
import { createLogger, type Logger } from '../log.js';

export { processIo, type Io } from '../io.js';

/** What a verb runs with: the config, a logger, and the state (the verb closes it). */
export interface CommandContext {
  config: Config;
  logger: Logger;
  store: StateStore;
}

/** How a verb logs: `config` as the config says (sync), `silent` for the verbs that print their own report. */
export interface ContextOptions {
  log?: 'config' | 'silent';
}

/** The config and a logger, without the state (the verbs whose engine functions open it). */
export function commandConfig(configPath: string | undefined, io: Io, options: ContextOptions = {}): { config: Config; logger: Logger } {
  const { config } = loadConfig(configPath, io.env);
  const logger = createLogger({ level: config.log.level, format: config.log.format, silent: options.log === 'silent' });
  return { config, logger };
}

/** The config, a logger and the state. */
export function openContext(configPath: string | undefined, io: Io, options: ContextOptions = {}): CommandContext {
  const { config, logger } = commandConfig(configPath, io, options);
  return { config, logger, store: openState(config) };
}

export function selectIntegrations(config: Config, name: string | undefined): IntegrationConfig[] {
  if (name === undefined) return config.integrations;
  const found = config.integrations.filter((i) => i.name === name);
  if (found.length === 0) {
    throw new ConfigError(`--integration ${name}: no such integration (have: ${config.integrations.map((i) => i.name).join(', ')})`);
  }
  return found;
}
