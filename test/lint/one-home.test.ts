import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The shipped sources, as seams.py and the layering rule see them.
const root = fileURLToPath(new URL('../..', import.meta.url));
const shipped = ['src', 'state', 'connectors']
  .flatMap((dir) => readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).map((f) => `${dir}/${f}`))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'));
const source = new Map(shipped.map((f) => [f, readFileSync(join(root, f), 'utf8')]));

const DEFINITION = /^export (?:declare )?(?:async )?(?:function\*?|const|let|class|abstract class|interface|type|enum) +([A-Za-z_$][\w$]*)/gm;

describe('one home for each rule', () => {
  it('no exported name is defined in two files (a re-export is fine: it is the same thing)', () => {
    const homes = new Map<string, string[]>();
    for (const [file, text] of source) for (const m of text.matchAll(DEFINITION)) homes.set(m[1]!, [...(homes.get(m[1]!) ?? []), file]);
    const twice = [...homes].filter(([, files]) => new Set(files).size > 1).map(([name, files]) => `${name}: ${files.join(', ')}`);
    expect(twice).toEqual([]);
  });

  it('durations are read by src/core/duration.ts alone', () => {
    const parsers = [...source].filter(([file, text]) => file !== 'src/core/duration.ts' && /\(\\d\+\)\((?:ms\|)?s\|m\|h\|d\)/.test(text)).map(([file]) => file);
    expect(parsers).toEqual([]);
  });
});
