import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../src/cli/main.js';
import { startConsole } from '../src/console/command.js';
import { ConfigError } from '../src/errors.js';
import { startDevTarget } from '../test/support/devtarget/server.js';

/** The port the demo's console takes when it is free (the console's default); another free one otherwise. */
const CONSOLE_PORT = 9464;

/**
 * `npm run demo`: starts the local SCIM target, syncs examples/directory.json
 * into it, shows the plan of a second cycle (empty) and the audit events, then
 * serves the web console of that state, read-only, on 127.0.0.1. On a terminal
 * it serves until Ctrl-C; otherwise (CI, tests) it checks that the console
 * answers, and ends.
 */
async function main(): Promise<number> {
  const token = 'demo-token';
  const target = await startDevTarget({ token, strict: true });
  const dir = mkdtempSync(join(tmpdir(), 'scimsync-demo-'));
  const configPath = join(dir, 'scimsync.yaml');
  const interactive = Boolean(process.stdout.isTTY);
  const writeConfig = (port: number) =>
    writeFileSync(
      configPath,
      [
        'state:',
        `  path: ${join(dir, 'scimsync.db')}`,
        'http:',
        `  listen: "127.0.0.1:${port}"`,
        'integrations:',
        '  - name: demo',
        `    source: { type: file, path: ${resolve('examples/directory.json')} }`,
        '    target:',
        `      url: ${target.url}`,
        '      auth: { type: bearer, token: "${DEMO_TOKEN}" }',
        '',
      ].join('\n'),
    );
  writeConfig(interactive ? CONSOLE_PORT : 0);
  const env = { ...process.env, DEMO_TOKEN: token };
  const io = {
    out: (l: string) => process.stdout.write(`${l}\n`),
    err: (l: string) => process.stderr.write(`${l}\n`),
    isTty: interactive,
    env,
  };
  try {
    io.out(`local SCIM target: ${target.url}\n`);
    io.out('$ scimsync sync');
    const code = await runCli(['sync', '--config', configPath], io);
    io.out(`\ntarget now holds ${target.users.size} users and ${target.groups.size} groups (${target.writes().length} write requests)\n`);
    io.out('$ scimsync plan   # the next cycle');
    await runCli(['plan', '--config', configPath], io);
    io.out('\n$ scimsync events');
    await runCli(['events', '--config', configPath], io);

    io.out('\n$ scimsync console   # read-only here: the demo lets no one act');
    const web = await openConsole(configPath, env, writeConfig);
    try {
      io.out(`web console of this state: ${web.url}/`);
      if (interactive) {
        io.out('(Ctrl-C stops the console and the local SCIM target)');
        await untilInterrupted();
      } else {
        // Not on a terminal (CI, tests): the console answers, and the demo ends.
        const res = await fetch(`${web.url}/api/integrations`);
        const body = (await res.json()) as { name: string; state: { kind: string } }[];
        if (res.status !== 200) throw new Error(`the console answered HTTP ${res.status}`);
        io.out(`console answered: ${body.map((i) => `${i.name} ${i.state.kind}`).join(', ')}`);
      }
    } finally {
      await web.close();
    }
    return code;
  } finally {
    await target.stop();
  }
}

/** The console on the configured port, or, when that one is taken, on a free one. */
async function openConsole(configPath: string, env: NodeJS.ProcessEnv, writeConfig: (port: number) => void) {
  try {
    return await startConsole({ config: configPath, env, loopbackRole: 'viewer' });
  } catch (err) {
    if (!(err instanceof ConfigError && err.message.includes('EADDRINUSE'))) throw err;
    writeConfig(0);
    return startConsole({ config: configPath, env, loopbackRole: 'viewer' });
  }
}

function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      process.stdout.write('\n');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

process.exitCode = await main();
