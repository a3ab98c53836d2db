import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';

/**
 * Every YAML config example a user can copy from the docs loads as shown.
 *
 * Only ```yaml fences are read: the unlabelled fences in README.md and
 * docs/DESIGN.md hold CLI usage, error output and folder layouts, not config.
 * Every ```yaml block is a config or a fragment of one, so none is skipped.
 */

interface Example {
  /** `README.md:204`: the file and the line of the opening fence. */
  name: string;
  text: string;
}

const DOCS = ['README.md', 'docs/DESIGN.md'];

/** A file of the repository, wherever the tests are run from. */
const repoFile = (name: string) => readFileSync(fileURLToPath(new URL(`../../${name}`, import.meta.url)), 'utf8');

function yamlBlocks(file: string): Example[] {
  const lines = repoFile(file).split('\n');
  const blocks: Example[] = [];
  let start: number | undefined;
  lines.forEach((line, i) => {
    if (start === undefined && /^```yaml\s*$/.test(line)) start = i;
    else if (start !== undefined && /^```\s*$/.test(line)) {
      blocks.push({ name: `${file}:${start + 1}`, text: lines.slice(start + 1, i).join('\n') });
      start = undefined;
    }
  });
  return blocks;
}

const TARGET_URL = '      url: https://app.example.com/scim/v2';
const TARGET_AUTH = '      auth: { type: bearer, token: example-token }';

/**
 * A fragment shows some keys of one integration (indented as under
 * `integrations: - name:`), maybe followed by top-level keys at column 0. It is
 * put into a minimal config: a file source and a target are added where the
 * fragment has none, and a target's url and auth where it shows only some keys.
 */
function wrapFragment(text: string): string {
  const lines = text.split('\n');
  const firstTopLevel = lines.findIndex((l) => /^[A-Za-z]/.test(l));
  const integration = firstTopLevel === -1 ? lines : lines.slice(0, firstTopLevel);
  const topLevel = firstTopLevel === -1 ? [] : lines.slice(firstTopLevel);
  const indent = Math.min(...integration.filter((l) => l.trim() && !l.trim().startsWith('#')).map((l) => l.length - l.trimStart().length));
  const shifted = integration.map((l) => (l.trim() ? ' '.repeat(4) + l.slice(indent) : l));
  const keyAt = (key: string) => shifted.findIndex((l) => l.startsWith(`    ${key}:`));
  const target = keyAt('target');
  if (target !== -1) {
    expect(shifted[target], 'a target fragment in block style').toMatch(/^ {4}target:\s*(#.*)?$/);
    let end = target + 1;
    while (end < shifted.length && (!shifted[end]!.trim() || /^ {6}/.test(shifted[end]!))) end += 1;
    const block = shifted.slice(target + 1, end);
    const added = [...(block.some((l) => l.startsWith('      url:')) ? [] : [TARGET_URL]), ...(block.some((l) => l.startsWith('      auth:')) ? [] : [TARGET_AUTH])];
    shifted.splice(target + 1, 0, ...added);
  }
  return [
    'integrations:',
    '  - name: example',
    ...(keyAt('source') === -1 ? ['    source: { type: file, path: ./directory.json }'] : []),
    ...(target === -1 ? ['    target:', TARGET_URL, TARGET_AUTH] : []),
    ...shifted,
    ...topLevel,
    '',
  ].join('\n');
}

/** The variables an example names, each set; a `${file:…}` points at a file made for it. */
function prepare(text: string): { text: string; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = {};
  const dir = mkdtempSync(join(tmpdir(), 'scimsync-example-'));
  let files = 0;
  const rewritten = text.replace(/\$\{([^}\n]+)\}/g, (written, ref: string) => {
    if (!ref.startsWith('file:')) {
      // Hashes have a shape of their own: what `scimsync console hash-password` prints.
      env[ref] = ref.endsWith('PASSWORD_HASH')
        ? 'scrypt$32768$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo'
        : ref.endsWith('TOKEN_HASH')
          ? `sha256$${'ab'.repeat(32)}`
          : `example-${ref.toLowerCase()}`;
      return written;
    }
    const file = join(dir, `secret-${(files += 1)}`);
    writeFileSync(file, 'example-secret\n');
    return `\${file:${file}}`;
  });
  return { text: rewritten, env };
}

/**
 * Examples that do not load for a reason the loader cannot fix, each with the
 * error it gives. Fix the doc (or the schema), then remove the entry: the test
 * fails while an entry here loads.
 */
const KNOWN_BROKEN: Record<string, { why: string; error: RegExp }> = {
};

const examples: Example[] = [
  { name: 'config.example.yaml', text: repoFile('config.example.yaml') },
  ...DOCS.flatMap(yamlBlocks),
];

describe('config examples in the docs', () => {
  it.each(DOCS)('finds YAML examples in %s', (file) => {
    expect(yamlBlocks(file).length).toBeGreaterThan(0);
  });

  const load = ({ text }: Example) => {
    const prepared = prepare(/^integrations:/m.test(text) ? text : wrapFragment(text));
    return () => parseConfig(prepared.text, 'scimsync.yaml', prepared.env);
  };

  it.each(examples.filter((e) => !KNOWN_BROKEN[e.name]))('$name loads', (example) => {
    expect(load(example)).not.toThrow();
  });

  const broken = examples.flatMap((e) => (KNOWN_BROKEN[e.name] ? [{ ...e, ...KNOWN_BROKEN[e.name]! }] : []));
  it.each(broken)('$name does not load yet: $why', (example) => {
    expect(load(example)).toThrow(example.error);
  });

  it('lists in KNOWN_BROKEN only examples that exist', () => {
    expect(Object.keys(KNOWN_BROKEN).filter((name) => !examples.some((e) => e.name === name))).toEqual([]);
  });
});
