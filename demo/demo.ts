import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../src/cli/main.js';
import { startDevTarget } from '../test/support/devtarget/server.js';

/**
 * `npm run demo`: starts the local SCIM target, syncs examples/directory.json
 * into it, shows the plan of a second cycle (empty) and the audit events, and
 * says how to open the web console on that state.
 */
async function main(): Promise<number> {
  const token = 'demo-token';
  const target = await startDevTarget({ token, strict: true });
  const dir = mkdtempSync(join(tmpdir(), 'scimsync-demo-'));
  const configPath = join(dir, 'scimsync.yaml');
  writeFileSync(
    configPath,
    [
      'state:',
      `  path: ${join(dir, 'scimsync.db')}`,
      'integrations:',
      '  - name: demo',
      `    source: { type: file, path: ${resolve('examples/directory.json')} }`,
      '    target:',
      `      url: ${target.url}`,
      '      auth: { type: bearer, token: "${DEMO_TOKEN}" }',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, DEMO_TOKEN: token };
  const io = {
    out: (l: string) => process.stdout.write(`${l}\n`),
    err: (l: string) => process.stderr.write(`${l}\n`),
    isTty: Boolean(process.stdout.isTTY),
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
    io.out(`\nThe web console of this state: npx scimsync console --config ${configPath}  (then http://127.0.0.1:9464/)`);
    return code;
  } finally {
    await target.stop();
  }
}

process.exitCode = await main();
