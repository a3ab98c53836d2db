import winston from 'winston';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LogOptions {
  level: LogLevel;
  format: 'pretty' | 'json';
  /** Where lines go; stderr by default so stdout stays for command output. */
  silent?: boolean;
}

export { escapeControl } from './redact.js';
import { escapeControl } from './redact.js';

/** One logger for the process. Messages never carry secrets: callers log paths and statuses, not headers. */
export function createLogger(options: LogOptions): winston.Logger {
  const format =
    options.format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
          winston.format.timestamp({ format: 'HH:mm:ss' }),
          winston.format.printf((info) => {
            const integration = typeof info.integration === 'string' ? ` [integration ${escapeControl(info.integration)}]` : '';
            return `${String(info.timestamp)} ${info.level.padEnd(5)} [scimsync]${integration} ${escapeControl(String(info.message))}`;
          }),
        );
  return winston.createLogger({
    level: options.level,
    format,
    silent: options.silent ?? false,
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}

export type Logger = winston.Logger;
