import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe } from 'vitest';

/** What the console's browser tests are told to install. */
export const CHROMIUM_INSTALL = 'apt-get install chromium, or set CHROMIUM to a Chromium or Chrome executable';
/** The names Chromium goes by on the PATH (Debian, Ubuntu, Google's build). */
const NAMES = ['chromium', 'chromium-browser', 'google-chrome'];

export type ChromiumLookup = { kind: 'found'; path: string; via: 'CHROMIUM' | 'PATH' } | { kind: 'missing'; reason: string };

/** What a browser suite does here: run with that Chromium, skip (saying so), or fail (under CI). */
export type ChromiumPlan = { kind: 'run'; path: string } | { kind: 'skip'; reason: string } | { kind: 'fail'; reason: string };

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Chromium as `CHROMIUM` names it (then only there), or else the first of its names on the PATH. */
export function findChromium(env: NodeJS.ProcessEnv): ChromiumLookup {
  const named = env.CHROMIUM;
  if (named !== undefined && named !== '') {
    return executable(named) ? { kind: 'found', path: named, via: 'CHROMIUM' } : { kind: 'missing', reason: `CHROMIUM=${named} is not an executable file` };
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const name of NAMES) {
    for (const dir of dirs) {
      const path = join(dir, name);
      if (executable(path)) return { kind: 'found', path, via: 'PATH' };
    }
  }
  return { kind: 'missing', reason: `no ${NAMES.join(', ')} on the PATH and CHROMIUM is not set` };
}

/** Without Chromium, a browser suite is skipped; under CI (`CI=true`) it fails instead, as the LDAP suites do without slapd. */
export function chromiumPlan(env: NodeJS.ProcessEnv): ChromiumPlan {
  const found = findChromium(env);
  if (found.kind === 'found') return { kind: 'run', path: found.path };
  const reason = `${found.reason} (${CHROMIUM_INSTALL})`;
  return env.CI === 'true' ? { kind: 'fail', reason } : { kind: 'skip', reason };
}

/**
 * The `describe` of a suite that drives Chromium, and the executable for
 * `chromium.launch` (called in the suite's `beforeAll`: it throws under CI when
 * Chromium is missing). Outside CI, without Chromium, the suite is skipped and
 * says so loudly.
 */
export function browserSuite(name: string, env: NodeJS.ProcessEnv = process.env): { describe: ReturnType<typeof describe.skipIf>; executablePath: () => string } {
  const plan = chromiumPlan(env);
  if (plan.kind === 'skip') console.warn(`\n*** ${name} are SKIPPED: ${plan.reason} ***\n`);
  return {
    describe: describe.skipIf(plan.kind === 'skip'),
    executablePath: () => {
      if (plan.kind === 'run') return plan.path;
      throw new Error(`Chromium is required under CI for ${name}: ${plan.reason}`);
    },
  };
}
