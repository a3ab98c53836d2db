/**
 * The outlets at shutdown, through the built CLI: an SMTP server that greets,
 * then answers one byte every half second (a tarpit: no socket timeout ever
 * fires) must not keep `scimsync sync` or the daemon alive, nor a SIEM collector
 * or a webhook that never answer. The outlets give up at the shutdown grace, and
 * every connection they opened is closed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, requireBuild } from '../support/cli.js';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { configHead, makeDirectory, workspace, type Workspace } from '../support/harness.js';
import { startHttpReceiver, waitFor, type HttpReceiver } from '../events/support.js';

const GRACE_MS = 2000;

interface Tarpit {
  port: number;
  /** Connections accepted so far. */
  accepted: number;
  /** Connections still open. */
  open: number;
  stop(): Promise<void>;
}

/** Greets like an SMTP server, then answers whatever comes one byte every 500 ms, forever. */
async function startTarpit(): Promise<Tarpit> {
  const sockets = new Set<net.Socket>();
  const state = { accepted: 0 };
  const server = net.createServer((s) => {
    state.accepted++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.write('220 mail.example.com ESMTP\r\n');
    const drip = setInterval(() => s.write('2'), 500);
    s.on('close', () => {
      clearInterval(drip);
      sockets.delete(s);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return state.accepted;
    },
    get open() {
      return sockets.size;
    },
    stop: () =>
      new Promise<void>((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
  };
}

let target: DevTarget | undefined;
let tarpit: Tarpit | undefined;
let child: ChildProcess | undefined;
/** A SIEM collector and a chat webhook that take requests and never answer. */
let silent: HttpReceiver | undefined;

requireBuild();
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
  await tarpit?.stop();
  await silent?.stop().catch(() => undefined);
  await target?.stop();
  silent = undefined;
  tarpit = undefined;
  target = undefined;
});

/** A target that refuses our token (401): the integration is quarantined, which the rules tell; every outlet hangs. */
async function setup(): Promise<Workspace> {
  target = await startDevTarget({ token: 'the-right-token', strict: true });
  tarpit = await startTarpit();
  silent = await startHttpReceiver();
  silent.delayMs = 600_000;
  const ws = workspace(target.url, 'a-wrong-token');
  ws.writeDirectory(makeDirectory(2));
  ws.writeConfig({
    raw: [
      ...configHead(ws, { targetUrl: target.url, log: 'warn' }),
      '    schedule: { every: 1h }',
      'events:',
      `  forward: [{ type: http, name: siem, url: "${silent.url}", timeoutMs: 60000 }]`,
      'notify:',
      `  - { on: [quarantine, cycleFailed], timeoutMs: 60000, webhook: "${silent.url}", format: slack }`,
      `  - { on: [quarantine, cycleFailed], timeoutMs: 60000, email: { to: [ops@example.com], from: scimsync@example.com, smtp: { host: 127.0.0.1, port: ${tarpit.port} } } }`,
      `shutdown: { graceMs: ${GRACE_MS} }`,
      '',
    ].join('\n'),
  });
  return ws;
}

interface Exit {
  code: number | null;
  stderr: string;
  /** When the process ended (ms epoch), or undefined when the watchdog killed it. */
  endedAt: number | undefined;
}

/** Spawns the CLI; a watchdog kills it after `watchdogMs`, and the result says so. */
function start(args: string[], watchdogMs: number): { exit: Promise<Exit> } {
  const proc = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, TEST_TOKEN: 'a-wrong-token' } });
  child = proc;
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  proc.stdout.resume();
  let killed = false;
  const watchdog = setTimeout(() => {
    killed = true;
    proc.kill('SIGKILL');
  }, watchdogMs);
  return {
    exit: new Promise((done) =>
      proc.on('exit', (code) => {
        clearTimeout(watchdog);
        done({ code, stderr, endedAt: killed ? undefined : Date.now() });
      }),
    ),
  };
}

describe('an SMTP tarpit', () => {
  it('does not keep sync alive: it gives the notifier shutdown.graceMs, closes the connections and exits', async () => {
    const ws = await setup();
    const started = Date.now();
    const run = start(['sync', '--config', ws.configPath], 40_000);
    const exit = await run.exit;
    expect(exit.endedAt, 'sync was still running 40 s later').toBeDefined();
    expect(exit.code).toBe(1);
    expect(tarpit!.accepted).toBeGreaterThan(0);
    // The cycle stops at once on the 401; then at most the grace for the outlets, and a margin.
    expect(exit.endedAt! - started).toBeLessThan(GRACE_MS + 10_000);
    expect(exit.stderr).toMatch(/notifications were still being sent when scimsync stopped/);
    expect(exit.stderr).not.toMatch(/\n\s+at /);
    await waitFor(() => tarpit!.open === 0, 'the SMTP connections closed', 2_000);
  }, 60_000);

  it('does not keep the daemon alive after SIGTERM: it exits within shutdown.graceMs and a margin', async () => {
    const ws = await setup();
    const run = start(['daemon', '--config', ws.configPath], 40_000);
    await waitFor(() => tarpit!.open > 0, 'the notifier connected to the SMTP server', 20_000);
    const signalled = Date.now();
    child!.kill('SIGTERM');
    const exit = await run.exit;
    expect(exit.endedAt, 'the daemon was still running 40 s after it started').toBeDefined();
    expect(exit.endedAt! - signalled).toBeLessThan(GRACE_MS + 5_000);
    expect(exit.code).toBe(0);
    expect(exit.stderr).not.toMatch(/\n\s+at /);
    await waitFor(() => tarpit!.open === 0, 'the SMTP connections closed', 2_000);
  }, 60_000);
});
