import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A forward sink (events.forward, type http) that records the event ids it acknowledged, and sometimes fails. */
export interface ChaosSink {
  url: string;
  /** Ids of the events in acknowledged batches, in arrival order. */
  received: number[];
  /** The share of batches answered 503 (sent again by scimsync). */
  failRate: number;
  stop(): Promise<void>;
}

export async function startSink(random: () => number): Promise<ChaosSink> {
  const sink: Omit<ChaosSink, 'url' | 'stop'> = { received: [], failRate: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (random() < sink.failRate) {
        res.writeHead(503).end();
        return;
      }
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events?: { id: number }[] };
        for (const e of body.events ?? []) sink.received.push(e.id);
        res.writeHead(204).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(sink, {
    url: `http://127.0.0.1:${port}/ingest`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
