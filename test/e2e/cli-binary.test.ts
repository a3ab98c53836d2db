import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';

const run = promisify(execFile);
const BIN = resolve('dist/src/cli/main.js');

async function scimsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let target: DevTarget;
beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error('build first: npm run build (npm test does it)');
  target = await startDevTarget({ token: 'bin-token', strict: true });
});
afterAll(() => target.stop());

describe('the built scimsync command', () => {
  it('syncs the example directory and lists the events', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scimsync-bin-'));
    const config = join(dir, 'scimsync.yaml');
    writeFileSync(
      config,
      `state: { path: ${join(dir, 'state.db')} }\nlog: { level: warn, format: json }\nintegrations:\n  - name: demo\n    source: { type: file, path: ${resolve('examples/directory.json')} }\n    target:\n      url: ${target.url}\n      auth: { type: bearer, token: "\${TOKEN}" }\n      rateLimit: { requestsPerSecond: 500, maxConcurrent: 4 }\n`,
    );
    const sync = await scimsync(['sync', '--config', config], { TOKEN: 'bin-token' });
    expect(sync.stderr).toBe('');
    expect(sync.code).toBe(0);
    expect(sync.stdout).toMatch(/\[integration demo\] success: created 11, adopted 0/);
    expect(target.users.size).toBe(11);
    const events = await scimsync(['events', '--config', config, '--type', 'user_create_provision', '--json'], { TOKEN: 'bin-token' });
    const parsed = events.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; result: string });
    expect(parsed).toHaveLength(11);
    expect(parsed.every((e) => e.type === 'user_create_provision' && e.result === 'success')).toBe(true);
    expect(events.stdout).not.toContain('bin-token');
  });

  it('exits 2 with one line and no stack trace on a bad config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scimsync-bin-'));
    const config = join(dir, 'scimsync.yaml');
    writeFileSync(config, 'integrations:\n  - name: x\n    source: { type: file, path: a.json }\n    target: { url: "not a url", auth: { type: bearer, token: t } }\n');
    const res = await scimsync(['sync', '--config', config]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/integrations\[0\]\.target\.url/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 on an unknown command option', async () => {
    const res = await scimsync(['sync', '--bogus']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/unknown option '--bogus'/);
  });

  it('shows a progress bar on a terminal, and none when piped', async () => {
    if (!existsSync('/usr/bin/script')) throw new Error('util-linux script is needed to give the CLI a terminal');
    const dir = mkdtempSync(join(tmpdir(), 'scimsync-bin-'));
    const users = Array.from({ length: 60 }, (_, i) => ({ id: `p${i}`, userName: `p${i}@example.com`, givenName: 'P', familyName: `N${i}`, email: `p${i}@example.com` }));
    writeFileSync(join(dir, 'd.json'), JSON.stringify({ users }));
    const config = join(dir, 'scimsync.yaml');
    writeFileSync(
      config,
      `state: { path: ${join(dir, 'state.db')} }\nlog: { level: warn }\nintegrations:\n  - name: tty\n    source: { type: file, path: ${join(dir, 'd.json')} }\n    target:\n      url: ${target.url}\n      auth: { type: bearer, token: bin-token }\n      rateLimit: { requestsPerSecond: 100, maxConcurrent: 2 }\n`,
    );
    const onTty = await run('/usr/bin/script', ['-qec', `${process.execPath} ${BIN} sync --config ${config}`, '/dev/null'], { env: { PATH: process.env.PATH } });
    expect(onTty.stdout).toMatch(/\[tty\] .* \d+\/60 operations \| [\d.]+\/s \| ETA .* \| failed 0/);
    expect(onTty.stdout).toMatch(/success: created 60/);
    users.push({ id: 'p60', userName: 'p60@example.com', givenName: 'P', familyName: 'N60', email: 'p60@example.com' });
    writeFileSync(join(dir, 'd.json'), JSON.stringify({ users }));
    const piped = await scimsync(['sync', '--config', config]);
    expect(piped.stdout + piped.stderr).not.toMatch(/operations \|/);
    expect(piped.stdout).toMatch(/created 1,/);
  });
});


/** The modules a command loads: every import a resolve hook sees (static or lazy), and every require(). */
async function modulesLoadedBy(args: string[]): Promise<{ code: number; modules: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'scimsync-modules-'));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    "import { appendFileSync } from 'node:fs';\n" +
      'export async function resolve(specifier, context, next) {\n' +
      '  const found = await next(specifier, context);\n' +
      "  appendFileSync(process.env.SCIMSYNC_MODULE_LOG, found.url + '\\n');\n" +
      '  return found;\n' +
      '}\n',
  );
  // CommonJS modules (jsonata is one) may also be loaded by require(): their cache is listed at exit.
  writeFileSync(
    join(dir, 'register.mjs'),
    "import { appendFileSync } from 'node:fs';\n" +
      "import { createRequire, register } from 'node:module';\n" +
      "register('./hooks.mjs', import.meta.url);\n" +
      'const cache = createRequire(import.meta.url).cache;\n' +
      "process.on('exit', () => appendFileSync(process.env.SCIMSYNC_MODULE_LOG, Object.keys(cache).map((f) => `file://${f}\\n`).join('')));\n",
  );
  const log = join(dir, 'modules.log');
  writeFileSync(log, '');
  let code = 0;
  try {
    await run(process.execPath, ['--import', join(dir, 'register.mjs'), BIN, ...args], { env: { PATH: process.env.PATH, SCIMSYNC_MODULE_LOG: log, TOKEN: 'bin-token' } });
  } catch (e) {
    code = (e as { code: number }).code;
  }
  return { code, modules: [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean))] };
}

/** A config for the example directory, with a state that one sync filled. */
async function exampleWorkspace(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'scimsync-bin-'));
  const config = join(dir, 'scimsync.yaml');
  writeFileSync(
    config,
    `state: { path: ${join(dir, 'state.db')} }\nlog: { level: warn }\nintegrations:\n  - name: demo\n    source: { type: file, path: ${resolve('examples/directory.json')} }\n    target:\n      url: ${target.url}\n      auth: { type: bearer, token: "\${TOKEN}" }\n`,
  );
  return config;
}

describe('the read-only verbs load only what they use', () => {
  // Packages only some configs need: a file source with no email notification loads neither, whatever the verb.
  const optional = [/\/node_modules\/ldapts\//, /\/node_modules\/nodemailer\//];
  // Reading the state and the config needs no directory client, no mapping engine and no HTTP client.
  const heavy = [...optional, /\/node_modules\/jsonata\//, /\/node_modules\/axios\//, /\/dist\/src\/scim\//];

  it.each([
    ['status', ['status']],
    ['events', ['events', '--json']],
    ['state show', ['state', 'show', 'u001']],
  ])('%s loads no LDAP client, no mail client, no JSONata and no HTTP client', async (_verb, args) => {
    const config = await exampleWorkspace();
    expect((await scimsync(['sync', '--config', config], { TOKEN: 'bin-token' })).code).toBe(0);
    const { code, modules } = await modulesLoadedBy([...args, '--config', config]);
    expect(code).toBe(0);
    // The hook saw the verb run: its module and the state were loaded.
    expect(modules.some((m) => m.endsWith('/dist/state/index.js'))).toBe(true);
    expect(modules.filter((m) => heavy.some((h) => h.test(m)))).toEqual([]);
  }, 60_000);

  it.each([
    ['plan', ['plan']],
    ['sync', ['sync']],
  ])('%s on a file source loads neither ldapts nor nodemailer', async (_verb, args) => {
    const config = await exampleWorkspace();
    const { code, modules } = await modulesLoadedBy([...args, '--config', config]);
    expect(code).toBe(0);
    // The hook saw the source read and the target spoken to.
    expect(modules.some((m) => m.endsWith('/dist/connectors/file.js'))).toBe(true);
    expect(modules.some((m) => m.includes('/node_modules/axios/'))).toBe(true);
    expect(modules.filter((m) => optional.some((h) => h.test(m)))).toEqual([]);
  }, 60_000);

  it('--help and --version load the command line parser only', async () => {
    for (const flag of ['--help', '--version']) {
      const { code, modules } = await modulesLoadedBy([flag]);
      expect(code).toBe(0);
      const ours = modules.filter((m) => m.includes('/dist/')).map((m) => m.slice(m.indexOf('/dist/') + 1));
      expect(ours.sort()).toEqual(['dist/src/cli/main.js', 'dist/src/errors.js', 'dist/src/io.js', 'dist/src/redact.js']);
      expect(modules.filter((m) => m.includes('/node_modules/') && !m.includes('/node_modules/commander/'))).toEqual([]);
    }
  }, 30_000);
});

/** The build of the shipped sources (src, connectors, state), without what other builds left in dist/: what `npm pack` packs after its clean build. */
function stagePackage(into: string): void {
  const root = resolve('.');
  copyFileSync(join(root, 'package.json'), join(into, 'package.json'));
  if (existsSync(join(root, 'README.md'))) copyFileSync(join(root, 'README.md'), join(into, 'README.md'));
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : []));
  for (const source of ['src', 'connectors', 'state'].flatMap((d) => walk(join(root, d)))) {
    const built = join(root, 'dist', relative(root, source)).replace(/\.ts$/, '.js');
    if (!existsSync(built)) throw new Error(`${relative(root, built)} is missing: build first (npm run build)`);
    const to = join(into, relative(root, built));
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(built, to);
  }
}

async function npmAvailable(): Promise<boolean> {
  try {
    await run('npm', ['--version'], { env: process.env });
    return true;
  } catch {
    return false;
  }
}

describe('the package', () => {
  it('packs, installs globally, answers --version and plans the example directory', async (ctx) => {
    if (!(await npmAvailable())) ctx.skip('npm is not on PATH: the package cannot be packed and installed here');
    const work = mkdtempSync(join(tmpdir(), 'scimsync-pack-'));
    // The global install holds every dependency: gone with the test.
    ctx.onTestFinished(() => rmSync(work, { recursive: true, force: true }));
    const stage = join(work, 'stage');
    mkdirSync(stage);
    stagePackage(stage);
    const npm = (args: string[], cwd: string) => run('npm', args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false' }, maxBuffer: 16 * 2 ** 20 });

    // The clean build is staged already: no prepack here.
    const packed = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], stage);
    const [info] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
    const files = info.files.map((f) => f.path);
    expect(files).toContain('dist/src/cli/main.js');
    expect(files).toContain('package.json');
    // Only the shipped layers: no tests, benchmarks, dev target or demo (they import devDependencies).
    expect(files.filter((f) => !/^(dist\/(src|connectors|state)\/|package\.json$|README\.md$|LICENSE)/.test(f))).toEqual([]);
    expect(files.filter((f) => /devtarget|\/demo\//.test(f))).toEqual([]);

    // Dependencies from the registry (the npm cache first); better-sqlite3's native part is this checkout's
    // own build of the same version, since compiling it is its installer's business and takes minutes.
    const prefix = join(work, 'prefix');
    await npm(['install', '--global', '--prefix', prefix, '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', join(work, info.filename)], work);
    const installed = join(prefix, 'lib', 'node_modules', 'scimsync');
    const sqlite = (base: string) => join(base, 'node_modules', 'better-sqlite3');
    const version = (dir: string) => (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    if (version(sqlite(installed)) === version(sqlite(resolve('.')))) {
      mkdirSync(join(sqlite(installed), 'build', 'Release'), { recursive: true });
      copyFileSync(join(sqlite(resolve('.')), 'build', 'Release', 'better_sqlite3.node'), join(sqlite(installed), 'build', 'Release', 'better_sqlite3.node'));
    } else {
      await npm(['rebuild', 'better-sqlite3'], installed);
    }

    const bin = join(prefix, 'bin', 'scimsync');
    const ours = version(resolve('.'));
    const v = await run(bin, ['--version'], { env: { PATH: process.env.PATH } });
    expect(v.stdout.trim()).toBe(ours);

    // A target of its own, to see that a plan sends it nothing.
    const fresh = await startDevTarget({ token: 'pack-token', strict: true });
    const config = join(work, 'scimsync.yaml');
    writeFileSync(
      config,
      `state: { path: ${join(work, 'state.db')} }\nlog: { level: warn }\nintegrations:\n  - name: demo\n    source: { type: file, path: ${resolve('examples/directory.json')} }\n    target:\n      url: ${fresh.url}\n      auth: { type: bearer, token: pack-token }\n`,
    );
    const plan = await run(bin, ['plan', '-c', config], { cwd: work, env: { PATH: process.env.PATH } }).finally(() => fresh.stop());
    expect(plan.stderr).toBe('');
    const lines = plan.stdout.trim().split('\n');
    expect(lines[0]).toBe('[integration demo] 14 operations');
    expect(lines.filter((l) => /^user\.create\s+u\d+\s+\S+@example\.com$/.test(l))).toHaveLength(11);
    expect(lines.filter((l) => l.startsWith('group.create'))).toHaveLength(3);
    expect(plan.stdout).toMatch(/^user\.create\s+u001\s+ada@example\.com$/m);
    expect(fresh.writes()).toEqual([]);
  }, 180_000);
});
