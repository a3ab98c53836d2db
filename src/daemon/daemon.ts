import { createConsoleApp } from '../console/app.js';
import { httpConfigOf } from '../console/command.js';
import { CycleProgressBoard } from '../console/progress.js';
import { configSecrets } from '../console/secrets.js';
import { startConsoleServer, type ConsoleServer } from '../console/server.js';
import { HealthWatch, leaseOwner, loadConnected, nextRun, openOutlets, openState, pruneEventsGently } from '../engine/index.js';
import type { IntegrationHealth, Outlets } from '../engine/index.js';
import { loadConfig } from '../config/load.js';
import type { Config, IntegrationConfig } from '../config/schema.js';
import { LeaseHeldError, ScimsyncError, errorMessage, type ExitCode } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import type { Io } from '../io.js';
import { Metrics } from './metrics.js';

export interface DaemonOptions {
  config?: string;
  io: Io;
  /** Stops the daemon (tests); the process signals do the same. */
  signal?: AbortSignal;
}

/** The longest the loop sleeps: it also wakes when a cycle ends or the next one is due. */
const TICK_MS = 200;
/** Retry soon when another process holds the lease. */
const BUSY_RETRY_MS = 5_000;

interface Slot {
  integration: IntegrationConfig;
  nextDue: number;
  running: Promise<void> | undefined;
}

/**
 * `scimsync daemon`: every integration on its schedule, forever. One cycle of an
 * integration at a time, also across processes sharing the state (a lease row).
 * SIGHUP reloads the config (a bad one is refused and the old one kept);
 * SIGTERM/SIGINT stop after the requests in flight.
 */
export async function runDaemon(options: DaemonOptions): Promise<ExitCode> {
  const { io } = options;
  const { createEngineConsoleBackend, withIntegrationLease } = await loadConnected();
  let { config, path } = loadConfig(options.config, io.env);
  const logger: Logger = createLogger({ level: config.log.level, format: io.isTty ? config.log.format : 'json' });
  const store = openState(config);
  const owner = leaseOwner();
  const metrics = new Metrics();
  const stop = new AbortController();
  options.signal?.addEventListener('abort', () => stop.abort(), { once: true });
  // Forwarding and notifications run as long as the daemon does; a reload replaces them.
  let outlets: Outlets = openOutlets({ config, store, logger });
  outlets.start();

  const slots = new Map<string, Slot>();
  const plan = (c: Config) => {
    const now = Date.now();
    for (const integration of c.integrations) {
      const known = slots.get(integration.name);
      if (known) known.integration = integration;
      else slots.set(integration.name, { integration, nextDue: now, running: undefined });
    }
    for (const name of [...slots.keys()]) {
      if (!c.integrations.some((i) => i.name === name)) {
        slots.delete(name);
        logger.warn(`integration ${name} is no longer configured: it is not run; its state is kept until scimsync state purge ${name}`);
      }
    }
    for (const name of store.knownIntegrations()) {
      if (!c.integrations.some((i) => i.name === name)) logger.warn(`the state holds integration ${name}, which is not configured (scimsync state purge ${name} drops it)`);
    }
  };
  plan(config);

  // While a cycle runs, health speaks of the one before.
  const watch = new HealthWatch(store);
  const health = () => {
    const report: Record<string, IntegrationHealth> = {};
    for (const name of slots.keys()) report[name] = watch.healthOf(name, Date.now());
    return report;
  };

  // The console, /healthz and /metrics share the daemon's http.listen.
  const board = new CycleProgressBoard();
  let server: ConsoleServer | undefined;
  if (config.http) {
    const http = httpConfigOf(config.http); // a non-loopback listen without auth: ConfigError, before any cycle
    const backend = createEngineConsoleBackend({
      config: () => config,
      store,
      logger,
      progress: board,
      outlets: () => outlets,
      nextCycle: (i) => {
        const slot = slots.get(i.name);
        return slot ? new Date(slot.nextDue) : null;
      },
    });
    const app = createConsoleApp({
      backend,
      http,
      secrets: () => configSecrets(config),
      health: async () => {
        const report = health();
        const ok = Object.values(report).every((r) => r.healthy);
        return { status: ok ? 200 : 503, body: { healthy: ok, integrations: report } };
      },
      metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
      onError: (err) => logger.error(`console: ${errorMessage(err)}`),
    });
    server = await startConsoleServer({ app, listen: http.listen });
    logger.info(`serving the console, /healthz and /metrics on ${server.url}/`);
  }

  const cycle = async (slot: Slot): Promise<void> => {
    const { integration } = slot;
    const name = integration.name;
    const started = new Date();
    try {
      const run = { integration, store, logger, outlets, signal: stop.signal, owner, shutdownGraceMs: config.shutdown.graceMs };
      await withIntegrationLease(run, async (leased) => {
        const { lease } = leased;
        board.start(name);
        try {
          const report = await leased.cycle({
            onEvent: (e) => metrics.operations.inc({ integration: name, type: e.type, result: e.result }),
            onRateLimit: () => {
              metrics.rateLimitWaits.inc({ integration: name });
              board.rateLimited(name);
            },
            onProgress: (done, total, failed) => {
              metrics.queueDepth.set({ integration: name }, total - done);
              board.update(name, { done, total, failed });
            },
          });
          metrics.cycleDuration.observe({ integration: name, outcome: report.outcome }, report.durationMs / 1000);
          if (report.outcome === 'success') metrics.lastSuccess.set({ integration: name }, Date.now() / 1000);
          logger.info(`cycle ${report.outcome} in ${(report.durationMs / 1000).toFixed(1)}s: ${JSON.stringify(report.counts)}`, { integration: name });
        } finally {
          board.finish(name);
          if (lease.lostTo !== undefined) logger.error(`${lease.lostTo} took over the lease during this cycle; it stopped after the requests in flight`, { integration: name });
        }
      });
    } catch (err) {
      if (err instanceof LeaseHeldError) {
        logger.debug('another scimsync holds this integration: not running it now', { integration: name });
        slot.nextDue = Date.now() + Math.min(BUSY_RETRY_MS, nextRun(integration.schedule, new Date()) - Date.now());
        return;
      }
      if (!(err instanceof ScimsyncError)) logger.error(`cycle failed unexpectedly: ${errorMessage(err)}`, { integration: name });
      else logger.error(err.message, { integration: name });
      metrics.cycleDuration.observe({ integration: name, outcome: 'failed' }, (Date.now() - started.getTime()) / 1000);
    }
    watch.noteLastCycle(name);
    metrics.queueDepth.set({ integration: name }, 0);
    const quarantinedUntil = watch.quarantinedUntil(name);
    metrics.quarantined.set({ integration: name }, quarantinedUntil > Date.now() ? 1 : 0);
    // Quarantine back-off: the next cycle waits for it to end.
    slot.nextDue = Math.max(nextRun(integration.schedule, started), quarantinedUntil);
    outlets.wake();
    await pruneEventsGently({ store, events: config.events, integrations: config.integrations.map((i) => i.name), logger, signal: stop.signal });
  };

  const onHup = () => {
    try {
      const next = loadConfig(path, io.env);
      // An unreadable caFile of a sink refuses the reload, before anything changes.
      const nextOutlets = openOutlets({ config: next.config, store, logger });
      const previous = outlets;
      outlets = nextOutlets;
      void previous.stop().then(() => {
        if (outlets === nextOutlets && !stop.signal.aborted) nextOutlets.start();
      });
      config = next.config;
      path = next.path;
      plan(config);
      logger.info('configuration reloaded');
    } catch (err) {
      logger.error(`configuration reload refused, the running configuration is kept: ${errorMessage(err)}`);
    }
  };
  const onStop = (sig: string) => () => {
    if (stop.signal.aborted) return;
    logger.info(`${sig}: stopping after the requests in flight`);
    stop.abort();
  };
  const handlers: [string, () => void][] = io.handleSignals
    ? [
        ['SIGHUP', onHup],
        ['SIGTERM', onStop('SIGTERM')],
        ['SIGINT', onStop('SIGINT')],
      ]
    : [];
  for (const [sig, h] of handlers) process.on(sig, h);
  logger.info(`daemon started with ${slots.size} integrations`);

  // The loop sleeps until the next cycle is due (at most TICK_MS), and a cycle that ends wakes it.
  let wake: (() => void) | undefined;
  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stop.signal.removeEventListener('abort', done);
        wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      stop.signal.addEventListener('abort', done, { once: true });
      wake = done;
    });
  try {
    while (!stop.signal.aborted) {
      const now = Date.now();
      let sleep = TICK_MS;
      for (const slot of slots.values()) {
        if (slot.running) continue;
        if (slot.nextDue > now) {
          sleep = Math.min(sleep, slot.nextDue - now);
          continue;
        }
        slot.running = cycle(slot).finally(() => {
          slot.running = undefined;
          wake?.();
        });
      }
      await nap(sleep);
    }
    await Promise.all([...slots.values()].map((s) => s.running));
  } finally {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
    if (server) await server.close();
    await outlets.stop({ graceMs: config.shutdown.graceMs });
    store.close();
  }
  logger.info('daemon stopped');
  return 0;
}
