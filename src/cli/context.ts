import { loadConfig } from '../config/load.js';
import type { Config, IntegrationConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { type StateStore, openStateStore } from '../../state/index.js';

export { processIo, type Io } from './io.js';
import type { Io } from './io.js';

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
