import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPlan, findChromium } from './support/chromium.js';

/** How the console's browser tests find Chromium, and whether they skip or fail without it. */
let dir: string;
let bin: string;
let other: string;

function script(path: string, mode: number): void {
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, mode);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'scimsync-chromium-'));
  bin = join(dir, 'bin');
  other = join(dir, 'other');
  mkdirSync(bin);
  mkdirSync(other);
  script(join(bin, 'chromium'), 0o755);
  script(join(other, 'chromium-browser'), 0o755);
  script(join(dir, 'my-chrome'), 0o755);
  script(join(dir, 'not-executable'), 0o644);
  mkdirSync(join(dir, 'a-directory'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the Chromium lookup', () => {
  it('takes the executable CHROMIUM names, before the PATH', () => {
    expect(findChromium({ CHROMIUM: join(dir, 'my-chrome'), PATH: bin })).toEqual({ kind: 'found', path: join(dir, 'my-chrome'), via: 'CHROMIUM' });
  });

  it('does not look elsewhere when CHROMIUM names no executable file', () => {
    for (const named of [join(dir, 'missing'), join(dir, 'not-executable'), join(dir, 'a-directory')]) {
      expect(findChromium({ CHROMIUM: named, PATH: bin }), named).toEqual({ kind: 'missing', reason: `CHROMIUM=${named} is not an executable file` });
    }
  });

  it('finds chromium, or chromium-browser, on the PATH', () => {
    expect(findChromium({ PATH: [join(dir, 'none'), bin].join(delimiter) })).toEqual({ kind: 'found', path: join(bin, 'chromium'), via: 'PATH' });
    expect(findChromium({ CHROMIUM: '', PATH: other })).toEqual({ kind: 'found', path: join(other, 'chromium-browser'), via: 'PATH' });
    expect(findChromium({ PATH: dir })).toMatchObject({ kind: 'missing', reason: expect.stringContaining('on the PATH') });
    expect(findChromium({})).toMatchObject({ kind: 'missing' });
  });
});

describe('a browser suite without Chromium', () => {
  it('runs with the Chromium found, under CI or not', () => {
    expect(chromiumPlan({ PATH: bin })).toEqual({ kind: 'run', path: join(bin, 'chromium') });
    expect(chromiumPlan({ PATH: bin, CI: 'true' })).toEqual({ kind: 'run', path: join(bin, 'chromium') });
  });

  it('is skipped outside CI, and fails under CI, saying how to install it', () => {
    const missing = { CHROMIUM: join(dir, 'missing'), PATH: bin };
    expect(chromiumPlan(missing)).toEqual({ kind: 'skip', reason: expect.stringMatching(/^CHROMIUM=.*missing is not an executable file \(apt-get install chromium/) });
    expect(chromiumPlan({ ...missing, CI: 'true' })).toMatchObject({ kind: 'fail', reason: expect.stringContaining('apt-get install chromium') });
    expect(chromiumPlan({ PATH: dir, CI: 'false' })).toMatchObject({ kind: 'skip' });
  });
});
