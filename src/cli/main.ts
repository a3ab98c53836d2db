#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ScimsyncError, type ExitCode } from '../errors.js';
import { escapeControl } from '../redact.js';
import { processIo, type Io } from '../io.js';
import type { ApproveOptions } from './approve.js';
import type { EventsOptions } from './events.js';
import type { PlanCommandOptions } from './plan.js';
import type { ReconcileOptions, RebuildCommandOptions } from './reconcile.js';
import type { PurgeOptions, ShowOptions } from './state.js';
import type { StatusOptions } from './status.js';
import type { SyncOptions } from './sync.js';
import type { TestConnectionOptions } from './test-connection.js';

// Each verb's module, and what it needs (LDAP, JSONata, the HTTP client, SQLite), loads
// when that verb runs: `scimsync --help` and `--version` load none of them.
const verbs = {
  approve: () => import('./approve.js'),
  console: () => import('./console.js'),
  daemon: () => import('../daemon/daemon.js'),
  events: () => import('./events.js'),
  plan: () => import('./plan.js'),
  reconcile: () => import('./reconcile.js'),
  state: () => import('./state.js'),
  status: () => import('./status.js'),
  sync: () => import('./sync.js'),
  testConnection: () => import('./test-connection.js'),
};

/** The version in package.json, read beside the built or source tree. */
function version(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // not there: the other layout
    }
  }
  return 'unknown';
}

const EXIT_CODES = `
Exit codes:
  0  every operation succeeded
  1  some operations failed (kept for retry), or the target refused us or was unreachable
  2  bad configuration or arguments, or an unreadable source or state file
  3  a safety rule aborted the cycle (deletion threshold, shrunken source, quarantine)
  4  another scimsync process (a daemon, another sync) is running the integration; try again later or pass --wait 5m`;

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function runCli(argv: string[], io: Io = processIo): Promise<ExitCode> {
  let exit: ExitCode = 0;
  const program = new Command()
    .name('scimsync')
    .description('Provision users from a source directory into SCIM 2.0 apps')
    .version(version(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .addHelpText('after', EXIT_CODES);

  program
    .command('sync')
    .description('run one cycle now')
    .option('-c, --config <file>', 'config file (default ./scimsync.yaml, else $SCIMSYNC_CONFIG)')
    .option('-i, --integration <name>', 'only this integration')
    .option('--dry-run', 'plan and print, send nothing')
    .option('--force', 'run even if the integration is quarantined (and lift the quarantine)')
    .option('--user <id>', "only this source user's operations")
    .option('--wait <duration>', 'when another scimsync process runs the integration, wait for it up to this long (e.g. 5m) instead of exiting 4')
    .addHelpText('after', EXIT_CODES)
    .action(async (o: SyncOptions) => {
      exit = await (await verbs.sync()).syncCommand(o, io);
    });

  program
    .command('plan')
    .description('show what the next cycle would do, without doing it')
    .option('-c, --config <file>', 'config file')
    .option('-i, --integration <name>', 'only this integration')
    .option('--json', 'one JSON operation per line')
    .option('--user <id>', 'one source user: its attributes, its SCIM resource and its operations')
    .action(async (o: PlanCommandOptions) => {
      exit = await (await verbs.plan()).planCommand(o, io);
    });

  program
    .command('events')
    .description('list audit events')
    .option('-c, --config <file>', 'config file')
    .option('-i, --integration <name>', 'only this integration')
    .option('--type <type>', 'event type, e.g. user_create_provision')
    .option('--result <result>', 'success | failure | skipped')
    .option('--user <id>', 'source id, userName or target id')
    .option('--since <when>', 'duration (1h, 7d) or ISO date')
    .option('--until <when>', 'duration or ISO date')
    .option('--cycle <id>', 'only the events of this cycle')
    .option('--after <id>', 'only events after this event id (0: from the oldest); page with --limit')
    .option('--limit <n>', 'at most n events')
    .option('--json', 'NDJSON, one event per line')
    .option('--format <format>', 'ndjson | csv (for a SIEM or a spreadsheet)')
    .option('--follow', 'keep printing new events as they are written')
    .action(async (o: EventsOptions) => {
      exit = await (await verbs.events()).eventsCommand(o, io);
    });

  program
    .command('daemon')
    .description('run every integration on its schedule, until stopped (SIGHUP reloads the config)')
    .option('-c, --config <file>', 'config file')
    .action(async (o: { config?: string }) => {
      exit = await (await verbs.daemon()).runDaemon({ ...(o.config ? { config: o.config } : {}), io });
    });

  const state = program.command('state').description('manage the state database');
  state
    .command('purge <integration>')
    .description('drop the state of an integration removed from the config (its events are kept)')
    .option('-c, --config <file>', 'config file')
    .option('--wait <duration>', 'when another scimsync process runs the integration, wait for it up to this long (e.g. 5m) instead of exiting 4')
    .action(async (name: string, o: PurgeOptions) => {
      exit = await (await verbs.state()).purgeCommand(name, o, io);
    });
  state
    .command('rebuild <integration>')
    .description('rebuild the state of an integration from the target and the source (reads only, sends no write)')
    .option('-c, --config <file>', 'config file')
    .option('--json', 'the result as one JSON object')
    .option('--wait <duration>', 'when another scimsync process runs the integration, wait for it up to this long (e.g. 5m) instead of exiting 4')
    .action(async (name: string, o: RebuildCommandOptions) => {
      exit = await (await verbs.reconcile()).rebuildCommand(name, o, io);
    });
  state
    .command('show <object>')
    .description('what state holds for one user or group (source id, target id, userName or displayName)')
    .option('-c, --config <file>', 'config file')
    .option('-i, --integration <name>', 'only this integration')
    .option('--json', 'one JSON object per match')
    .action(async (key: string, o: ShowOptions) => {
      exit = (await verbs.state()).showCommand(key, o, io);
    });

  program
    .command('reconcile')
    .description('compare the target with state and source: drift, vanished and unmanaged accounts, membership drift')
    .option('-c, --config <file>', 'config file')
    .option('-i, --integration <name>', 'only this integration')
    .option('--json', 'the report as one JSON object per integration')
    .option('--apply', 'restore the source values in the target (drift, vanished accounts, memberships)')
    .option('--adopt', 'link unmanaged accounts that match a source user')
    .option('--wait <duration>', 'with --apply or --adopt: when another scimsync process runs the integration, wait for it up to this long (e.g. 5m) instead of exiting 4')
    .action(async (o: ReconcileOptions) => {
      exit = await (await verbs.reconcile()).reconcileCommand(o, io);
    });

  program
    .command('approve <integration>')
    .description('let the next cycle apply a held mass deprovision, once')
    .option('-c, --config <file>', 'config file')
    .option('--wait <duration>', 'when a cycle runs the integration, wait for it up to this long (e.g. 5m) instead of exiting 4')
    .action(async (name: string, o: ApproveOptions) => {
      exit = await (await verbs.approve()).approveCommand(name, o, io);
    });

  program
    .command('discard <integration>')
    .description('forget a held mass deprovision and any approval of it')
    .option('-c, --config <file>', 'config file')
    .option('--wait <duration>', 'when a cycle runs the integration, wait for it up to this long (e.g. 5m) instead of exiting 4')
    .action(async (name: string, o: ApproveOptions) => {
      exit = await (await verbs.approve()).discardCommand(name, o, io);
    });

  program
    .command('status')
    .description('last cycle, quarantine and failing operations of each integration')
    .option('-c, --config <file>', 'config file')
    .option('--json', 'one JSON object per integration')
    .action(async (o: StatusOptions) => {
      exit = (await verbs.status()).statusCommand(o, io);
    });

  program
    .command('test-connection')
    .description('check credentials and what the target supports')
    .option('-c, --config <file>', 'config file')
    .option('-i, --integration <name>', 'only this integration')
    .action(async (o: TestConnectionOptions) => {
      exit = await (await verbs.testConnection()).testConnectionCommand(o, io);
    });

  const web = program
    .command('console')
    .description('serve the web console without running cycles (the daemon runs them)')
    .option('-c, --config <file>', 'config file')
    .action(async (o: { config?: string }) => {
      exit = await (await verbs.console()).consoleVerb(o, io);
    });
  web
    .command('hash-password')
    .description('print the scrypt hash of a console password (read without echo, or from a pipe); --token makes an API token and its hash')
    .option('--token', 'make an API token instead')
    .action(async (o: { token?: boolean }) => {
      exit = await (await verbs.console()).hashPasswordVerb(o, io);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exit;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof ScimsyncError) {
      io.err(escapeControl(err.message));
      return err.exitCode;
    }
    io.err(`[scimsync] unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}

function isMain(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const code = await runCli(process.argv.slice(2));
  process.exitCode = code;
}
