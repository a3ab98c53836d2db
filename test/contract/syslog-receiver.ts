/** The syslog listener of test/events/support.ts as a receiver of the forward sink contract, over TCP or TLS. */
import type { SyslogListener } from '../events/support.js';
import type { ForwardReceiver, Outage } from './forward-sink.contract.js';

export interface SyslogReceiver extends ForwardReceiver {
  listener: SyslogListener;
}

export function syslogReceiver(listener: SyslogListener, tls: { caFile?: string } = {}): SyslogReceiver {
  return {
    listener,
    config: { type: 'syslog', url: listener.url, ...tls },
    // A frame the listener could not read (a TLS handshake sent to a plain port) carries no event.
    ids: () => listener.ids().filter((id) => Number.isInteger(id)),
    down: () => listener.stop(),
    up: () => listener.restart(),
    hold: () => listener.hold(),
    release: () => listener.release(),
    close: () => listener.stop().catch(() => undefined),
  };
}

/** Syslog has no acknowledgement: the sink learns that its connection is gone when its socket says so. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 200));

export const syslogOutages: Record<string, Outage<SyslogReceiver>> = {
  'is down, its connections cut': { begin: async (r) => (await r.listener.stop('cut'), await settle()), end: (r) => r.listener.restart() },
  'closes its connections and stops (a graceful restart)': { begin: async (r) => (await r.listener.stop('end'), await settle()), end: (r) => r.listener.restart() },
};
