/** The forward sinks, registered once: `events.forward`'s schema and the Forwarder it describes. */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { sinkKey, type SinkPlugin } from './config.js';
import { Forwarder, type ForwardSink, type ForwardSource, type ForwarderOptions, type SinkPositions, type SinkSettings } from './forwarder.js';
import { httpSinkPlugin } from './http.js';
import { syslogSinkPlugin } from './syslog.js';

/** Every forward sink, one line each: `type:` takes the names their schemas declare. */
const SINKS = [httpSinkPlugin, syslogSinkPlugin] as const;

export type ForwardSinkConfig = z.output<(typeof SINKS)[number]['options']>;

function pluginOf(c: ForwardSinkConfig): SinkPlugin {
  const plugin = SINKS.find((s) => s.type === c.type);
  // The schema admits only registered types: a miss is a programming error.
  if (!plugin) throw new Error(`no forward sink of type ${c.type}`);
  return plugin as unknown as SinkPlugin;
}

/** `events.forward`: every sink under a name of its own, since its position in state is kept by name. */
export const forwardSchema = z
  .array(z.discriminatedUnion('type', [SINKS[0].options, ...SINKS.slice(1).map((s) => s.options)]))
  .max(16, 'expected at most 16 sinks')
  .superRefine((sinks, ctx) => {
    const seen = new Map<string, number>();
    sinks.forEach((sink, i) => {
      const key = sinkKey(sink);
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `sinks ${first} and ${i} would both be named ${key}; give one a name: of its own` });
      }
      seen.set(key, i);
      const problem = pluginOf(sink).problem?.(sink);
      if (problem) ctx.addIssue({ code: 'custom', path: [i, problem.key], message: problem.message });
      if (sink.retry.maxDelayMs < sink.retry.baseDelayMs) {
        ctx.addIssue({ code: 'custom', path: [i, 'retry', 'maxDelayMs'], message: `expected at least retry.baseDelayMs (${sink.retry.baseDelayMs}), got ${sink.retry.maxDelayMs}` });
      }
    });
  });

export type ForwardConfig = z.infer<typeof forwardSchema>;

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
  const ca = readCa(c.caFile, key);
  return pluginOf(c).create(c, { name: sinkKey(c), ...(ca ? { ca } : {}) });
}
