/** The notification destinations, registered once: `notify:` rules take the keys their options declare. */
import type { DestinationPlugin } from './destination.js';
import { emailDestination } from './email.js';
import { webhookDestination } from './webhook.js';

/** Every notification destination, one line each. */
export const DESTINATIONS = [webhookDestination, emailDestination] as const;

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** The keys every destination owns in a `notify:` rule, together. */
export type DestinationKeys = UnionToIntersection<(typeof DESTINATIONS)[number]['options']>;

export const destinationKeys = Object.assign({}, ...DESTINATIONS.map((d) => d.options)) as DestinationKeys;

export const destinationPlugins: readonly DestinationPlugin[] = DESTINATIONS as unknown as readonly DestinationPlugin[];
