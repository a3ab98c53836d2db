import winston from 'winston';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LogOptions {
  level: LogLevel;
  format: 'pretty' | 'json';
  /** Where lines go; stderr by default so stdout stays for command output. */
  silent?: boolean;
}

// C0 controls, DEL, C1 controls and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text for a human reader, on one line: control characters and line separators
 * become `\n`, `\r`, `\t` or `\u001b`, so a value read from a source or a
 * target cannot start a line of its own that passes for a log line or a row.
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

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
