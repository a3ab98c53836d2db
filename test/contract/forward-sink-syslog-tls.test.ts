import { afterAll } from 'vitest';
import { rmSync } from 'node:fs';
import { selfSignedCertificate, startSyslogListener, tempDir } from '../events/support.js';
import { syslogReceiver, syslogOutages } from './syslog-receiver.js';
import { testForwardSink } from './forward-sink.contract.js';

const dir = tempDir();
const cert = selfSignedCertificate(dir, 'receiver');
const stranger = selfSignedCertificate(dir, 'someone-else');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

testForwardSink('syslog over TLS', {
  start: async () => syslogReceiver(await startSyslogListener({ tls: cert }), { caFile: cert.certFile }),
  // Syslog takes no credentials.
  secrets: [],
  outages: syslogOutages,
  refusals: {
    'presents a certificate no configured CA vouches for': {
      start: async () => syslogReceiver(await startSyslogListener({ tls: cert }), { caFile: stranger.certFile }),
      error: /certificate/i,
    },
    'speaks plain TCP, not TLS': {
      start: async () => {
        const plain = syslogReceiver(await startSyslogListener(), { caFile: cert.certFile });
        return { ...plain, config: { ...plain.config, url: String(plain.config.url).replace(/^tcp:/, 'tls:') } };
      },
      error: /TLS/,
    },
  },
});
