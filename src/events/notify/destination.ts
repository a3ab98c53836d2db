/** A notification destination as the registry (destinations.ts) holds it: the rule keys it owns and its factory. */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { Notification } from './rules.js';

/** One place a rule sends to, as its plug-in builds it; the notifier adds the rule's `on`, `repeatAfter` and `timeoutMs`. */
export interface Destination {
  /** Stable across restarts, free of secrets: the key of its memory. */
  id: string;
  /** For messages: where it goes, without its credential. */
  label: string;
  /** Values no message may show (the webhook URL, the SMTP password). */
  secrets: readonly string[];
  send(n: Notification, signal: AbortSignal): Promise<void>;
  close(): void;
}

/** What every destination of a rule shares, besides its own keys. */
export interface RuleSettings {
  /** Bounds one delivery attempt. */
  timeoutMs: number;
}

export interface DestinationPlugin<S extends z.ZodRawShape = z.ZodRawShape> {
  /** The key of a `notify:` rule that asks for this destination (`webhook`, `email`): the first of its options. */
  readonly key: string;
  /** The keys it owns in a `notify:` rule, its own key first (optional: a rule may name several destinations). */
  readonly options: S;
  /** The destination a rule asks for, or undefined when its key is not set; `where` is the rule's key path (`notify[0]`). */
  create(rule: z.output<z.ZodObject<S>> & RuleSettings, where: string): Destination | undefined;
}

export function defineDestination<S extends z.ZodRawShape>(plugin: Omit<DestinationPlugin<S>, 'key'>): DestinationPlugin<S> {
  return { ...plugin, key: Object.keys(plugin.options)[0]! };
}

/** A destination's id: its kind and a digest of what identifies it (no secret can be read back from it). */
export function destinationId(kind: string, identity: string): string {
  return `${kind}:${createHash('sha256').update(identity).digest('hex').slice(0, 16)}`;
}
