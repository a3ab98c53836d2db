import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { afterAll, describe, expect, it } from 'vitest';
import { cyclesChecked } from '../../eslint/cycles.js';

// Run the way `npm run lint` runs it: the repo's eslint.config.js, on files on disk (a circle needs both ends).
const root = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: root, overrideConfigFile: join(root, 'eslint.config.js') });
const dir = mkdtempSync(join(root, 'test/lint/cycle-fixture-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes the files, lints the first one and returns its no-cycle findings. */
async function cycleFindings(files: Record<string, string>): Promise<string[]> {
  for (const [name, code] of Object.entries(files)) writeFileSync(join(dir, name), code);
  const [result] = await eslint.lintFiles([join(dir, Object.keys(files)[0]!)]);
  return result!.messages.filter((m) => m.ruleId === 'import-x/no-cycle').map((m) => m.message);
}

describe('the lint rejects an import circle', () => {
  it('runs the no-cycle rule (eslint-plugin-import-x is installed)', () => {
    expect(cyclesChecked, 'npm install --save-dev eslint-plugin-import-x').toBe(true);
  });

  it('two modules importing each other is an error', async () => {
    const findings = await cycleFindings({
      'pair-a.ts': "import { b } from './pair-b.js';\nexport const a = () => b;\n",
      'pair-b.ts': "import { a } from './pair-a.js';\nexport const b = () => a;\n",
    });
    expect(findings).toEqual([expect.stringMatching(/cycle/i)]);
  });

  it('a circle through a third module is an error too', async () => {
    const findings = await cycleFindings({
      'ring-a.ts': "import { b } from './ring-b.js';\nexport const a = () => b;\n",
      'ring-b.ts': "import { c } from './ring-c.js';\nexport const b = () => c;\n",
      'ring-c.ts': "import { a } from './ring-a.js';\nexport const c = () => a;\n",
    });
    expect(findings).toEqual([expect.stringMatching(/cycle via "\.\/ring-c\.js/i)]);
  });

  it('one-way imports pass', async () => {
    const findings = await cycleFindings({
      'line-a.ts': "import { b } from './line-b.js';\nexport const a = () => b;\n",
      'line-b.ts': 'export const b = 1;\n',
    });
    expect(findings).toEqual([]);
  });
});
