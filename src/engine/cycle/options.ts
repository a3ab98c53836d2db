import type { SourceConnector } from '../../../connectors/source.js';
import type { StateStore } from '../../../state/index.js';
import type { IntegrationConfig } from '../../config/schema.js';
import type { StrayMember } from '../../core/stray-members.js';
import type { Notification, NotifyOn } from '../../events/notify/rules.js';
import type { NewEvent } from '../../events/types.js';
import type { Logger } from '../../log.js';
import type { ScimClient } from '../../scim/client.js';

/** What a cycle needs of the notifier (src/events/notify): news to tell, and conditions that ended. */
export interface CycleNotifier {
  notify(n: Notification): unknown;
  clear(integration: string, topic: Exclude<NotifyOn, 'quarantine'>): void;
}

/** What a preview (plan, sync --dry-run, the console's plan) needs: it reads, and writes nothing. */
export interface PreviewOptions {
  integration: IntegrationConfig;
  store: StateStore;
  logger: Logger;
  /** Overrides for tests: a prepared source or client. */
  source?: SourceConnector | undefined;
  client?: ScimClient | undefined;
  /** Plan even if the source shrank. */
  force?: boolean | undefined;
  /** Only this source user's operations (sync --user, plan --user). */
  onlyUser?: string | undefined;
}

export interface CycleOptions extends PreviewOptions {
  /** Called after each operation settles (progress display). */
  onProgress?: (done: number, total: number, failed: number) => void;
  /** Aborted on SIGINT/SIGTERM: no new operations start; requests in flight finish within the grace. */
  signal?: AbortSignal;
  /** How long to wait for requests in flight once `signal` is aborted; then they are cut off. */
  shutdownGraceMs?: number;
  /** The clock, for quarantine times (tests). */
  now?: () => Date;
  /** Called for every event written (metrics). */
  onEvent?: (event: NewEvent) => void;
  /** Called when the target answers 429 and the client waits (metrics). */
  onRateLimit?: () => void;
  /** Tells admins of quarantines, held deprovisions, given-up operations, failed cycles and shrunken sources. */
  notifier?: CycleNotifier | undefined;
  /** Member values reconcile found in managed groups that are not managed accounts: those it takes out are sent too (`reconcile --apply`). */
  strays?: readonly StrayMember[] | undefined;
}
