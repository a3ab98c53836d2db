import { startSyslogListener } from '../events/support.js';
import { syslogReceiver, syslogOutages } from './syslog-receiver.js';
import { testForwardSink } from './forward-sink.contract.js';

testForwardSink('syslog over TCP', {
  start: async () => syslogReceiver(await startSyslogListener()),
  // Syslog takes no credentials.
  secrets: [],
  outages: syslogOutages,
  // Syslog over TCP has no way to refuse a sender: a receiver either reads or is away (outages).
  refusals: {},
});
