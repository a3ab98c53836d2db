/**
 * What scimsync tells an admin about, and when a message is news. A state
 * (quarantine) is told when it changes, never again while it lasts; a
 * condition (a held deprovision, a failing cycle) once per integration and kind
 * within a window, then again only if it is still there after the window, or
 * if it ended and came back.
 */
import { escapeControl } from '../../log.js';

/** The values of a rule's `on:`. */
export const NOTIFY_ON = ['quarantine', 'held', 'givenUp', 'cycleFailed', 'sourceShrank'] as const;
export type NotifyOn = (typeof NOTIFY_ON)[number];

interface Told {
  integration: string;
  /** ISO 8601. */
  time: string;
  /** One line for a human: the subject of an email, the Slack text. */
  text: string;
}

export type Notification =
  | (Told & { kind: 'quarantineEntered'; until: string; reason: string })
  | (Told & { kind: 'quarantineLifted'; reason: string })
  | (Told & { kind: 'held'; deprovisions: number; reason: string })
  | (Told & { kind: 'givenUp'; operations: number; reason: string })
  | (Told & { kind: 'cycleFailed'; cycleId?: string; error: string })
  | (Told & { kind: 'sourceShrank'; sourceUsers: number; lastGood: number; reason: string });

export type NotificationKind = Notification['kind'];

/** The `on:` value that selects a notification. */
export function topicOf(n: Notification): NotifyOn {
  switch (n.kind) {
    case 'quarantineEntered':
    case 'quarantineLifted':
      return 'quarantine';
    case 'held':
    case 'givenUp':
    case 'cycleFailed':
    case 'sourceShrank':
      return n.kind;
    default: {
      const never: never = n;
      return never;
    }
  }
}

/** A text for one line: no control character, no line break, bounded. */
export function oneLine(text: string, max = 400): string {
  const flat = escapeControl(text);
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

interface Facts {
  integration: string;
  /** Defaults to now. */
  time?: string;
}

const told = (f: Facts, text: string): Told => ({ integration: f.integration, time: f.time ?? new Date().toISOString(), text: oneLine(`scimsync: integration ${f.integration}: ${text}`) });

export function quarantineEntered(f: Facts & { until: string; reason: string }): Notification {
  return { kind: 'quarantineEntered', ...told(f, `quarantined until ${f.until}: ${f.reason}`), until: f.until, reason: oneLine(f.reason) };
}

export function quarantineLifted(f: Facts & { reason: string }): Notification {
  return { kind: 'quarantineLifted', ...told(f, `quarantine lifted (${f.reason})`), reason: oneLine(f.reason) };
}

export function held(f: Facts & { deprovisions: number; reason: string }): Notification {
  return {
    kind: 'held',
    ...told(f, `mass deprovision held: ${f.deprovisions} users, ${f.reason}; review with scimsync plan, then scimsync approve ${f.integration}`),
    deprovisions: f.deprovisions,
    reason: oneLine(f.reason),
  };
}

export function givenUp(f: Facts & { operations: number; reason: string }): Notification {
  return { kind: 'givenUp', ...told(f, `${f.operations} operations given up from escrow: ${f.reason}`), operations: f.operations, reason: oneLine(f.reason) };
}

export function cycleFailed(f: Facts & { error: string; cycleId?: string }): Notification {
  return { kind: 'cycleFailed', ...told(f, `cycle failed: ${f.error}`), ...(f.cycleId ? { cycleId: f.cycleId } : {}), error: oneLine(f.error) };
}

export function sourceShrank(f: Facts & { sourceUsers: number; lastGood: number; reason: string }): Notification {
  return {
    kind: 'sourceShrank',
    ...told(f, `cycle stopped: the source shrank to ${f.sourceUsers} users from ${f.lastGood} (${f.reason})`),
    sourceUsers: f.sourceUsers,
    lastGood: f.lastGood,
    reason: oneLine(f.reason),
  };
}

/** Where what each destination was last told is kept, so that a restart does not tell it again. */
export interface NotifyMemory {
  last(key: string): string | undefined;
  remember(key: string, value: string): void;
}

/** What a destination was last told about one integration and topic. */
interface Remembered {
  /** `entered` / `lifted` for a quarantine; `sent` / `cleared` for the other topics. */
  state: string;
  /** When it was told, in ms. */
  at: number;
}

export function memoryKey(destination: string, integration: string, topic: NotifyOn): string {
  return `${destination}|${integration}|${topic}`;
}

function recall(value: string | undefined): Remembered | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed = JSON.parse(value) as Partial<Remembered>;
    return typeof parsed.state === 'string' && typeof parsed.at === 'number' ? { state: parsed.state, at: parsed.at } : undefined;
  } catch {
    return undefined;
  }
}

export interface Decision {
  send: boolean;
  /** What to remember once the message went out. */
  remember: string;
}

/**
 * Whether `n` is news to a destination that was last told `previous`. A
 * quarantine is told on each change of state and never repeated; another
 * topic is repeated only after `repeatAfterMs`, or at once after it was cleared.
 */
export function decide(n: Notification, previous: string | undefined, options: { now: number; repeatAfterMs: number }): Decision {
  const last = recall(previous);
  const state = n.kind === 'quarantineEntered' ? 'entered' : n.kind === 'quarantineLifted' ? 'lifted' : 'sent';
  const remember = JSON.stringify({ state, at: options.now });
  if (last === undefined) return { send: true, remember };
  if (topicOf(n) === 'quarantine') return { send: last.state !== state, remember };
  return { send: last.state !== 'sent' || options.now - last.at >= options.repeatAfterMs, remember };
}

/** The memory of a topic that ended (a cycle succeeded again): its next occurrence is news at once. */
export const CLEARED = JSON.stringify({ state: 'cleared', at: 0 });
