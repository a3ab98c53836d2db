import { startHttpReceiver, type HttpReceiver } from '../events/support.js';
import { testForwardSink, type ForwardReceiver } from './forward-sink.contract.js';

const TOKEN = 'bearer-token-7f3a9c';
const HMAC = 'hmac-key-0123456789abcdef';
/** A collector that takes its key in the query string: the URL itself is a credential too. */
const URL_KEY = 'url-key-5e8d2b';

interface HttpContractReceiver extends ForwardReceiver {
  http: HttpReceiver;
}

async function start(): Promise<HttpContractReceiver> {
  const http = await startHttpReceiver();
  return {
    http,
    config: { type: 'http', url: `${http.url}?apiKey=${URL_KEY}`, auth: { type: 'bearer', token: TOKEN }, hmac: { secret: HMAC } },
    ids: () => http.ids(),
    down: () => http.stop(),
    up: () => http.restart(),
    hold: () => void (http.delayMs = 600_000),
    release: () => void (http.delayMs = 0),
    close: () => http.stop().catch(() => undefined),
  };
}

/** A collector that answers every batch with `status`. */
const answering = (status: number) => async () => {
  const r = await start();
  r.http.status = status;
  return r;
};

const failing = (status: number) => ({
  begin: async (r: HttpContractReceiver) => void (r.http.status = status),
  end: async (r: HttpContractReceiver) => void (r.http.status = 200),
});

testForwardSink('http', {
  start,
  secrets: [TOKEN, HMAC, URL_KEY],
  outages: {
    'is down': { begin: (r) => r.down(), end: (r) => r.up() },
    'answers 503 Service Unavailable': failing(503),
    'answers 500 Internal Server Error': failing(500),
  },
  refusals: {
    'answers 401 Unauthorized': { start: answering(401), error: /HTTP 401/ },
    'answers 403 Forbidden': { start: answering(403), error: /HTTP 403/ },
    'answers 400 Bad Request': { start: answering(400), error: /HTTP 400/ },
    'answers with a redirect': { start: answering(307), error: /HTTP 307 \(redirects are not followed\)/ },
  },
});
