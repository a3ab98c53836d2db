import { Presets, SingleBar } from 'cli-progress';
import { describeDrain, describeOperation, leaseOwner, loadConnected, openOutlets, parseWait, pruneEventsGently } from '../engine/index.js';
import type { CycleReport, Outlets } from '../engine/index.js';
import { ScimsyncError, type ExitCode } from '../errors.js';
import { openContext, selectIntegrations, type Io } from './context.js';

export interface SyncOptions {
  config?: string;
  integration?: string;
  dryRun?: boolean;
  force?: boolean;
  user?: string;
  /** How long to wait for another scimsync process running the integration (`5m`); by default, exit 4 at once. */
  wait?: string;
}

function groupPart(r: CycleReport): string {
  const c = r.counts;
  const any = c.groupsCreated + c.groupsAdopted + c.groupsUpdated + c.groupsDeleted + c.membersAdded + c.membersRemoved;
  if (any === 0) return '';
  return (
    `; groups created ${c.groupsCreated}, adopted ${c.groupsAdopted}, updated ${c.groupsUpdated}, deleted ${c.groupsDeleted}, ` +
    `members +${c.membersAdded} -${c.membersRemoved}`
  );
}

export function summaryLine(r: CycleReport): string {
  const c = r.counts;
  const secs = (r.durationMs / 1000).toFixed(1);
  return (
    `[integration ${r.integration}] ${r.outcome}: created ${c.created}, adopted ${c.adopted}, updated ${c.updated}, ` +
    `deactivated ${c.deactivated}, reactivated ${c.reactivated}, deleted ${c.deleted}, failed ${c.failed}, held ${c.held}` +
    groupPart(r) +
    `${c.escrowed ? `, kept for retry ${c.escrowed}` : ''}${c.givenUp ? `, given up ${c.givenUp}` : ''}` +
    `${c.notStarted ? `, not started ${c.notStarted}` : ''}` +
    `${c.skippedRows ? `, skipped source rows ${c.skippedRows}` : ''} in ${secs}s`
  );
}

/** A progress bar on stderr for an interactive sync: done / planned, rate, ETA, failures. */
function progressBar(integration: string): { update: (done: number, total: number, failed: number) => void; stop: () => void } {
  const bar = new SingleBar(
    {
      format: `[${integration}] {bar} {value}/{total} operations | {speed}/s | ETA {eta_formatted} | failed {failed}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    },
    Presets.shades_classic,
  );
  let started: number | undefined;
  return {
    update: (done, total, failed) => {
      if (started === undefined) {
        started = Date.now();
        bar.start(total, 0, { speed: '0', failed: 0 });
      }
      const secs = Math.max(0.001, (Date.now() - started) / 1000);
      bar.update(done, { speed: (done / secs).toFixed(1), failed });
    },
    stop: () => bar.stop(),
  };
}

/** `scimsync sync`: one cycle of each selected integration now. */
export async function syncCommand(options: SyncOptions, io: Io): Promise<ExitCode> {
  const waitMs = parseWait(options.wait);
  const { previewCycle, runIntegrationCycle } = await loadConnected();
  const ctx = openContext(options.config, io);
  const owner = leaseOwner();
  let exit: ExitCode = 0;
  // SIGINT/SIGTERM: start nothing new, let requests in flight finish, commit, print the summary.
  const stop = new AbortController();
  const onSignal = (sig: string) => {
    if (stop.signal.aborted) return;
    io.err(`[scimsync] ${sig}: stopping after the requests in flight (a second signal exits at once)`);
    stop.abort();
    process.once(sig, () => process.exit(130));
  };
  const handlers = { SIGINT: () => onSignal('SIGINT'), SIGTERM: () => onSignal('SIGTERM') };
  if (io.handleSignals) for (const [sig, h] of Object.entries(handlers)) process.once(sig, h);
  // A dry run writes no events and tells nobody.
  let outlets: Outlets | undefined;
  try {
    if (!options.dryRun) {
      outlets = openOutlets({ config: ctx.config, store: ctx.store, logger: ctx.logger });
      // Events go out while the cycles run; the drain at the end sends the rest.
      outlets.start();
    }
    for (const integration of selectIntegrations(ctx.config, options.integration)) {
      if (stop.signal.aborted) break;
      const progress = io.isTty && !options.dryRun ? progressBar(integration.name) : undefined;
      try {
        const only = options.user !== undefined ? { onlyUser: options.user } : {};
        const run = async (): Promise<CycleReport> => {
          const { report: r, lostTo } = await runIntegrationCycle(
            {
              integration,
              store: ctx.store,
              logger: ctx.logger,
              outlets,
              wait: { waitMs, waitText: options.wait, onWait: io.err },
              signal: stop.signal,
              owner,
              shutdownGraceMs: ctx.config.shutdown.graceMs,
            },
            { ...(progress ? { onProgress: progress.update } : {}), force: options.force ?? false, ...only },
          );
          if (lostTo !== undefined) {
            io.err(`[scimsync] [integration ${integration.name}] ${lostTo} took over the lease during this run; it stopped after the requests in flight`);
            exit = Math.max(exit, 4) as ExitCode;
          }
          return r;
        };
        // A dry run sends nothing and writes no state: it needs no lease.
        const report = options.dryRun ? await previewCycle({ integration, store: ctx.store, logger: ctx.logger, force: options.force ?? false, ...only }) : await run();
        progress?.stop();
        if (report.outcome === 'dry-run') {
          io.out(`[integration ${integration.name}] dry run: ${report.operations.length} operations would be sent`);
          for (const op of report.operations) io.out(`  ${describeOperation(op)}`);
          if (report.hold && !report.hold.approved) io.out(`HELD: ${report.hold.message}`);
        } else {
          io.out(summaryLine(report));
        }
        exit = Math.max(exit, report.exitCode) as ExitCode;
      } catch (err) {
        progress?.stop();
        if (!(err instanceof ScimsyncError)) throw err;
        io.err(err.message);
        exit = Math.max(exit, err.exitCode) as ExitCode;
      }
    }
    if (outlets) {
      // The end of a run is its shutdown: the sinks get shutdown.graceMs to catch up, and what is left goes next time.
      const drained = await outlets.drain({ timeoutMs: ctx.config.shutdown.graceMs, signal: stop.signal });
      outlets = undefined;
      for (const line of describeDrain(drained)) io.err(`[scimsync] ${line}`);
    }
    if (!options.dryRun) {
      const integrations = ctx.config.integrations.map((i) => i.name);
      await pruneEventsGently({ store: ctx.store, events: ctx.config.events, integrations, logger: ctx.logger, signal: stop.signal });
    }
  } finally {
    for (const [sig, h] of Object.entries(handlers)) process.removeListener(sig, h);
    // After an error: stop what was started before the state closes under it.
    if (outlets) await outlets.stop({ graceMs: 1000 });
    ctx.store.close();
  }
  return exit;
}
