import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { Hono } from 'hono';
import { ConfigError, errorMessage } from '../errors.js';
import { parseListen } from '../config/http.js';
import type { ConsoleEnv } from './env.js';

export interface ConsoleServer {
  /** `http://127.0.0.1:9464`: where the console answers. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the console (and /healthz, /metrics) on `listen`. A port in use or an
 * address this machine does not have is a ConfigError naming http.listen.
 */
export async function startConsoleServer(options: { app: Hono<ConsoleEnv>; listen: string }): Promise<ConsoleServer> {
  const { host, port } = parseListen(options.listen);
  const server = createAdaptorServer({ fetch: options.app.fetch, hostname: host, port }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new ConfigError(`http.listen ${options.listen}: ${errorMessage(err)}`)));
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections of a browser would hold the close open.
        server.closeAllConnections();
      }),
  };
}
