import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The file map of docs/DESIGN.md: the paths its "Where each concept lives" block names, one a line. */
function mappedFiles(design: string): string[] {
  const section = design.split('## Where each concept lives')[1];
  if (section === undefined) throw new Error('docs/DESIGN.md has no "Where each concept lives" section');
  const block = section.split('```')[1] ?? '';
  return block
    .split('\n')
    .map((line) => /^(\S+\.ts)\s/.exec(line)?.[1])
    .filter((path): path is string => path !== undefined);
}

/** What the file map misses and what it names that is gone. */
function staleness(mapped: readonly string[], shipped: readonly string[]): { unmapped: string[]; gone: string[] } {
  const named = new Set(mapped);
  const present = new Set(shipped);
  return { unmapped: shipped.filter((f) => !named.has(f)), gone: mapped.filter((f) => !present.has(f)) };
}

describe("docs/DESIGN.md's file map", () => {
  it('names every shipped source file once, and no file that is gone', () => {
    const shipped = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', 'src/*.ts', 'state/*.ts', 'connectors/*.ts'], { encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
    const mapped = mappedFiles(readFileSync('docs/DESIGN.md', 'utf8'));
    expect(staleness(mapped, shipped)).toEqual({ unmapped: [], gone: [] });
    expect(mapped.length).toBe(new Set(mapped).size);
  });

  it('tells a file added without its line, and a line whose file is gone', () => {
    const design = '## Where each concept lives\n\n```\nsrc/a.ts    A.\nsrc/gone.ts Gone.\n```\n';
    expect(staleness(mappedFiles(design), ['src/a.ts', 'src/new.ts'])).toEqual({ unmapped: ['src/new.ts'], gone: ['src/gone.ts'] });
  });
});
