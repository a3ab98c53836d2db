/** Builds the Forwarder that `events.forward` describes. */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { sinkKey, type ForwardConfig, type ForwardSinkConfig } from './config.js';
import { Forwarder, type ForwardSink, type ForwardSource, type ForwarderOptions, type SinkPositions, type SinkSettings } from './forwarder.js';
import { httpSink } from './http.js';
import { syslogSink } from './syslog.js';

export interface ForwarderFromConfigOptions {
  /** `config.events.forward`. */
  config: ForwardConfig;
  source: ForwardSource;
  positions: SinkPositions;
  logger?: Logger;
  onDelivered?: ForwarderOptions['onDelivered'];
  /** How often an idle sink looks for events written by another process. @default 1000 */
  pollMs?: number;
}

/** Undefined when no sink is configured. A CA file that cannot be read is a ConfigError naming its key. */
export function forwarderFromConfig(options: ForwarderFromConfigOptions): Forwarder | undefined {
  if (options.config.length === 0) return undefined;
  const sinks = options.config.map((c, i) => ({ sink: sinkFromConfig(c, `events.forward[${i}]`), settings: settingsOf(c) }));
  return new Forwarder({
    sinks,
    source: options.source,
    positions: options.positions,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.onDelivered ? { onDelivered: options.onDelivered } : {}),
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
  });
}

function settingsOf(c: ForwardSinkConfig): SinkSettings {
  return { batchSize: c.batchSize, flushMs: c.flushMs, timeoutMs: c.timeoutMs, retry: c.retry };
}

function readCa(file: string | undefined, key: string): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${key}.caFile: ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
}

export function sinkFromConfig(c: ForwardSinkConfig, key: string): ForwardSink {
  const name = sinkKey(c);
  const ca = readCa(c.caFile, key);
  switch (c.type) {
    case 'http':
      return httpSink({
        name,
        url: c.url,
        ...(c.auth ? { auth: c.auth } : {}),
        ...(c.hmac ? { hmac: c.hmac } : {}),
        ...(ca ? { ca } : {}),
        rejectUnauthorized: c.rejectUnauthorized,
      });
    case 'syslog':
      return syslogSink({ name, url: c.url, ...(ca ? { ca } : {}), rejectUnauthorized: c.rejectUnauthorized, format: { facility: c.facility } });
    default: {
      const never: never = c;
      throw new ConfigError(`${key}.type: unknown sink type ${String((never as { type: unknown }).type)}`);
    }
  }
}
