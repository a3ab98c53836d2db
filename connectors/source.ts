import type { z } from 'zod';
import type { SnapshotResult } from '../src/core/records.js';

/** A source of truth: returns the whole directory as one snapshot. */
export interface SourceConnector {
  readonly kind: string;
  /** Reads the directory. Throws SourceError when the source cannot be read at all. */
  snapshot(): Promise<SnapshotResult>;
}

/** The options schema of a source: an object whose `type` literal is the name `source.type` uses. */
export type SourceOptionsSchema = z.ZodObject<{ type: z.ZodLiteral<string> } & z.ZodRawShape>;

/** A source connector as the registry (connectors/index.ts) holds it: its options and its factory. */
export interface SourcePlugin<S extends SourceOptionsSchema = SourceOptionsSchema> {
  /** `source.type`, read from the schema's literal so that the name is written once. */
  readonly type: z.output<S>['type'];
  readonly options: S;
  /** The connector; its library (ldapts, the SCIM client) is loaded when it first reads. */
  create(options: z.output<S>, integration: string): SourceConnector;
  /** The options with their file paths resolved against the config file's folder. */
  resolvePaths?(options: z.output<S>, resolve: (path: string) => string): z.output<S>;
}

export function defineSource<S extends SourceOptionsSchema>(plugin: Omit<SourcePlugin<S>, 'type'>): SourcePlugin<S> {
  return { ...plugin, type: plugin.options.shape.type.value as z.output<S>['type'] };
}
