import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, workspace } from '../support/harness.js';
import { failures } from './directory.js';
import { forwarder } from './servers/devtarget.js';

const TOKEN = 'compat-keep-alive-token';
const KEEP_ALIVE_S = 2;

/**
 * Node's HTTP server, the server of most SCIM apps written in JavaScript, closes a
 * connection idle for 5 s and says so in every answer (`Keep-Alive: timeout=5`).
 * A request sent on that connection as the server closes it gets a reset and no
 * answer. This front says `timeout=2` and resets a request that arrives on a
 * connection idle for longer: the outcome of that race, every time.
 */
async function startShortKeepAliveFront(target: DevTarget): Promise<{ url: string; resets: () => number; close: () => Promise<void> }> {
  const upstream = new URL(target.url);
  const forward = forwarder(upstream);
  const answeredAt = new WeakMap<Socket, number>();
  let resets = 0;
  const server: Server = createServer((req, res) => {
    const last = answeredAt.get(req.socket);
    if (last !== undefined && Date.now() - last > KEEP_ALIVE_S * 1000) {
      resets++;
      req.socket.resetAndDestroy();
      return;
    }
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('Keep-Alive', `timeout=${KEEP_ALIVE_S}`);
    res.on('finish', () => answeredAt.set(req.socket, Date.now()));
    forward(req, res);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname}`,
    resets: () => resets,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("a server's keep-alive timeout", () => {
  let target: DevTarget;
  let front: Awaited<ReturnType<typeof startShortKeepAliveFront>>;
  beforeAll(async () => {
    target = await startDevTarget({ token: TOKEN, strict: true });
    front = await startShortKeepAliveFront(target);
  });
  afterAll(async () => {
    await front.close();
    await target.stop();
  });

  it(
    'a cycle that starts after it does not send a member change on the closed connection',
    async () => {
      const ws = workspace(front.url, TOKEN);
      // A request that got no answer must not hold the test for the default 60 s.
      ws.writeConfig({ targetYaml: 'timeoutMs: 10000' });
      const d = makeDirectory(3);
      d.groups = [{ id: 'g1', displayName: 'Sales', members: ['u00001'] }];
      ws.writeDirectory(d);
      expect((await ws.run(['sync'])).code).toBe(0);

      await sleep((KEEP_ALIVE_S + 1) * 1000);
      d.groups[0]!.members.push('u00002');
      ws.writeDirectory(d);
      const run = await ws.run(['sync']);
      expect(await failures(ws)).toEqual([]);
      expect(run.code).toBe(0);
      expect(front.resets()).toBe(0);
      const sales = [...target.groups.values()].find((g) => g.displayName === 'Sales')!;
      expect((sales.members as { value: string }[]).length).toBe(2);
    },
  );
});
