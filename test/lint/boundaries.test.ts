import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { dependencyRuleOptions } from '../../eslint/boundaries.js';
import { LAYERS, TEMPORARY_EXCEPTIONS } from '../../eslint/layers.js';

// The rule of DESIGN.md "Layout and layers", run the way `npm run lint` runs it: the repo's eslint.config.js.
const root = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: root, overrideConfigFile: join(root, 'eslint.config.js') });

interface Finding {
  rule: string | null;
  message: string;
}

/** Lints `code` as if it were the file at `filePath` (relative to the repo): only where it lives decides its layer. */
async function lint(filePath: string, code: string): Promise<Finding[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return result!.messages.map((m) => ({ rule: m.ruleId, message: m.message }));
}

const layering = (findings: Finding[]) => findings.filter((f) => f.rule === 'boundaries/dependencies');

describe('the layering rule rejects a forbidden import', () => {
  it('core importing the SCIM client is an error', async () => {
    const findings = await lint('src/core/bad.ts', "import { ScimClient } from '../scim/client.js';\nexport const client = ScimClient;\n");
    expect(layering(findings)).toEqual([expect.objectContaining({ message: expect.stringMatching(/core may not import scim \(\.\.\/scim\/client\.js\)/) })]);
  });

  it('cli importing the state store is an error', async () => {
    const findings = await lint('src/cli/bad.ts', "import { openStateStore } from '../../state/index.js';\nexport const open = openStateStore;\n");
    expect(layering(findings)).toEqual([expect.objectContaining({ message: expect.stringMatching(/cli may not import state/) })]);
  });

  it('cli importing scim through a re-export or a lazy import() is an error too', async () => {
    const reExport = await lint('src/cli/bad.ts', "export { ScimClient } from '../scim/client.js';\n");
    const lazy = await lint('src/cli/bad.ts', "export const load = () => import('../scim/client.js');\n");
    expect(layering(reExport)).toHaveLength(1);
    expect(layering(lazy)).toHaveLength(1);
  });

  it.each(['node:fs', 'fs', 'node:http', 'node:net', 'node:child_process', 'axios', 'better-sqlite3'])('core importing %s is an error', async (module) => {
    const findings = await lint('src/core/bad.ts', `import * as io from '${module}';\nexport const x = io;\n`);
    expect(findings).toEqual([expect.objectContaining({ rule: 'no-restricted-imports', message: expect.stringContaining('src/core is pure') })]);
  });

  it('core reading the clock or randomness is an error', async () => {
    const findings = await lint('src/core/bad.ts', 'export const at = Date.now();\nexport const r = Math.random();\n');
    expect(findings.map((f) => f.rule)).toEqual(['no-restricted-properties', 'no-restricted-properties']);
  });

  it.each(['src/cli/bad.ts', 'src/daemon/bad.ts', 'src/console/bad.ts'])('%s reaches the engine only through src/engine/index.ts', async (file) => {
    const up = file.split('/').length - 2;
    const prefix = '../'.repeat(up);
    const direct = await lint(file, `import { previewCycle } from '${prefix}engine/cycle.js';\nexport const p = previewCycle;\n`);
    const surface = await lint(file, `import { loadConnected } from '${prefix}engine/index.js';\nexport const l = loadConnected;\n`);
    expect(layering(direct)).toEqual([expect.objectContaining({ message: expect.stringMatching(/may not import engine \(\.\.\/engine\/cycle\.js\)/) })]);
    expect(layering(surface)).toEqual([]);
  });

  it('cli may import events types, not events values', async () => {
    const types = await lint('src/cli/ok.ts', "import type { EventRecord } from '../events/types.js';\nexport type E = EventRecord;\n");
    const values = await lint('src/cli/bad.ts', "import { EVENT_TYPES } from '../events/types.js';\nexport const t = EVENT_TYPES;\n");
    expect(layering(types)).toEqual([]);
    expect(layering(values)).toEqual([expect.objectContaining({ message: expect.stringMatching(/cli may not import events/) })]);
  });

  it('the daemon importing a CLI module is an error', async () => {
    const findings = await lint('src/daemon/bad.ts', "import { table } from '../cli/format.js';\nexport const t = table;\n");
    expect(layering(findings)).toEqual([expect.objectContaining({ message: expect.stringMatching(/daemon may not import cli/) })]);
  });

  it('the daemon and the CLI opening the state themselves is an error', async () => {
    const daemon = await lint('src/daemon/bad.ts', "import { openStateStore } from '../../state/index.js';\nexport const open = openStateStore;\n");
    const cliTypes = await lint('src/cli/bad.ts', "import type { StateStore } from '../../state/index.js';\nexport type S = StateStore;\n");
    expect(layering(daemon)).toEqual([expect.objectContaining({ message: expect.stringMatching(/daemon may not import state/) })]);
    expect(layering(cliTypes)).toEqual([expect.objectContaining({ message: expect.stringMatching(/cli may not import state/) })]);
  });

  it('shipped code importing the dev target is an error', async () => {
    const findings = await lint('src/engine/bad.ts', "import { startDevTarget } from '../../test/support/devtarget/server.js';\nexport const s = startDevTarget;\n");
    expect(layering(findings)).toEqual([expect.objectContaining({ message: expect.stringMatching(/engine may not import tooling/) })]);
  });

  it('a file in a folder that has no layer yet is an error', async () => {
    const findings = await lint('src/newthing/x.ts', 'export const x = 1;\n');
    expect(findings.map((f) => f.rule)).toEqual(['boundaries/no-unknown-files']);
  });
});

describe('the layering rule lets allowed edges pass', () => {
  it.each([
    ['engine -> core', 'src/engine/ok.ts', "import { planUsers } from '../core/plan-users.js';\nexport const p = planUsers;\n"],
    ['engine -> state', 'src/engine/ok.ts', "import { openStateStore } from '../../state/index.js';\nexport const s = openStateStore;\n"],
    ['core -> node:crypto (hashing)', 'src/core/ok.ts', "import { createHash } from 'node:crypto';\nexport const h = createHash;\n"],
    ['cli -> errors (a shared leaf)', 'src/cli/ok.ts', "import { ConfigError } from '../errors.js';\nexport const e = ConfigError;\n"],
    ['daemon -> io (a shared leaf)', 'src/daemon/ok.ts', "import { processIo } from '../io.js';\nexport const io = processIo;\n"],
    ['cli -> engine queries, through the surface', 'src/cli/ok.ts', "import { configuredStatuses } from '../engine/index.js';\nexport const s = configuredStatuses;\n"],
    ['connectors -> scim (the SCIM source reads with the client)', 'connectors/ok.ts', "import { ScimClient } from '../src/scim/client.js';\nexport const c = ScimClient;\n"],
    ['config -> connectors/profiles (profile names)', 'src/config/ok.ts', "import { PROFILES } from '../../connectors/profiles/index.js';\nexport const p = PROFILES;\n"],
    ['tests -> anything', 'test/ok.test.ts', "import { openStateStore } from '../state/index.js';\nexport const s = openStateStore;\n"],
  ])('%s passes', async (_edge, file, code) => {
    expect(await lint(file, code)).toEqual([]);
  });
});

describe('TEMPORARY_EXCEPTIONS in eslint/layers.js', () => {
  it('names only files that exist and layers the rule knows', () => {
    const gone = TEMPORARY_EXCEPTIONS.filter((e) => !existsSync(join(root, e.file)));
    expect(gone, 'these files moved or were removed: delete their entries from TEMPORARY_EXCEPTIONS').toEqual([]);
    const layers = new Set(LAYERS.map((l) => l.layer));
    expect(TEMPORARY_EXCEPTIONS.filter((e) => !layers.has(e.imports))).toEqual([]);
  });

  it('holds only entries that are still needed (remove an entry once its file keeps to the layering)', async () => {
    // The same config without any exception: every entry must still correspond to a reported import.
    const strict = new ESLint({
      cwd: root,
      overrideConfigFile: join(root, 'eslint.config.js'),
      overrideConfig: { files: ['**/*.ts'], rules: { 'boundaries/dependencies': ['error', dependencyRuleOptions({ exceptions: [] })] } },
    });
    const files = [...new Set(TEMPORARY_EXCEPTIONS.map((e) => e.file))].filter((f) => existsSync(join(root, f)));
    const results = await strict.lintFiles(files.map((f) => join(root, f)));
    const reported = new Set(
      results.flatMap((r) =>
        r.messages
          .filter((m) => m.ruleId === 'boundaries/dependencies')
          .map((m) => `${r.filePath.slice(root.length)} -> ${/may not import (\S+)/.exec(m.message)?.[1]}`),
      ),
    );
    const stale = TEMPORARY_EXCEPTIONS.filter((e) => existsSync(join(root, e.file))).map((e) => `${e.file} -> ${e.imports}`).filter((edge) => !reported.has(edge));
    expect(stale, 'these exceptions no longer match a forbidden import: delete them').toEqual([]);
  }, 120_000);
});
