import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, workspace, type Workspace } from '../support/harness.js';

const BIN = resolve('dist/src/cli/main.js');
const TOKEN = 'state-file-token';

/** One way a state file can be unusable: how to make it, and what the one line must say. */
interface Broken {
  name: string;
  /** Makes the state of `ws` unusable; returns how to undo what must be undone. */
  make(ws: Workspace): (() => void) | void;
  says: RegExp;
}

let target: DevTarget;
/** A state file as a real sync leaves it. */
let realState: Buffer;

beforeAll(async () => {
  target = await startDevTarget({ token: TOKEN, strict: true });
  const ws = workspace(target.url, TOKEN);
  ws.writeDirectory(makeDirectory(600));
  ws.writeConfig();
  const first = await ws.run(['sync']);
  expect(first.code).toBe(0);
  realState = readFileSync(statePath(ws));
});
afterAll(() => target.stop());

function statePath(ws: Workspace): string {
  return join(ws.dir, 'state.db');
}

/** A workspace whose state path is `path` (relative to its folder). */
function workspaceWithState(path?: string): Workspace {
  const ws = workspace(target.url, TOKEN);
  ws.writeDirectory(makeDirectory(20));
  ws.writeConfig();
  if (path) writeFileSync(ws.configPath, readFileSync(ws.configPath, 'utf8').replace(statePath(ws), join(ws.dir, path)));
  return ws;
}

const DAMAGED = /damaged or truncated .*: restore it from a backup, or move it aside and run `scimsync state rebuild <integration>`/;

const broken: Broken[] = [
  {
    name: 'a state path whose folder cannot be created',
    make: (ws) => writeFileSync(join(ws.dir, 'data'), 'a file where the folder should be'),
    says: /cannot create its folder .*\/data \((EEXIST|ENOTDIR): a part of that path is a file, not a folder\): create it, or set state\.path/,
  },
  {
    name: 'a state file of random bytes',
    make: (ws) => writeFileSync(statePath(ws), randomBytes(16384)),
    says: DAMAGED,
  },
  {
    name: 'a real state file cut in half',
    make: (ws) => writeFileSync(statePath(ws), realState.subarray(0, realState.length / 2)),
    says: DAMAGED,
  },
  {
    name: 'a state file that cannot be written',
    make: (ws) => {
      writeFileSync(statePath(ws), realState);
      // Root writes through any mode: the immutable attribute stops root too.
      if (process.getuid?.() === 0) {
        execFileSync('chattr', ['+i', statePath(ws)]);
        return () => execFileSync('chattr', ['-i', statePath(ws)]);
      }
      chmodSync(statePath(ws), 0o444);
    },
    says: /cannot be written \((EACCES|EPERM)\): .*make the file and its folder writable/,
  },
  {
    name: 'an empty (0-byte) state file',
    make: (ws) => writeFileSync(statePath(ws), ''),
    says: /the file is empty \(0 bytes\) and holds no state: restore it from a backup; or, to start afresh, delete it/,
  },
];

/** The state path a case's config names. */
function brokenPath(c: Broken, ws: Workspace): string {
  return c.name.startsWith('a state path') ? join(ws.dir, 'data', 'state.db') : statePath(ws);
}

function expectOneLine(err: string[], path: string, says: RegExp): void {
  expect(err).toHaveLength(1);
  expect(err[0]!.startsWith(`[scimsync] state: ${path}: `)).toBe(true);
  expect(err[0]).toMatch(says);
  expect(err[0]).not.toContain(TOKEN);
}

describe('a state file scimsync cannot use', () => {
  for (const c of broken) {
    for (const command of ['status', 'sync']) {
      it(`stops ${command} with one line on ${c.name}, exit 2, leaving the file as it was`, async () => {
        const ws = workspaceWithState(c.name.startsWith('a state path') ? 'data/state.db' : undefined);
        const undo = c.make(ws);
        const path = brokenPath(c, ws);
        const before = existsSync(path) ? readFileSync(path) : undefined;
        const requests = target.requests.length;
        try {
          const res = await ws.run([command]);
          expect(res.code).toBe(2);
          expectOneLine(res.err, path, c.says);
          expect(res.out).toEqual([]);
        } finally {
          if (undo) undo();
        }
        expect(target.requests.length).toBe(requests);
        if (before) expect(readFileSync(path).equals(before)).toBe(true);
      });
    }
  }

  it('starts afresh once the empty file is deleted, as its message says', async () => {
    const ws = workspaceWithState();
    writeFileSync(statePath(ws), '');
    expect((await ws.run(['status'])).code).toBe(2);
    rmSync(statePath(ws));
    const res = await ws.run(['status']);
    expect(res.err).toEqual([]);
    expect(res.code).toBe(0);
  });

  it('prints one line and no stack trace from the built command', async () => {
    if (!existsSync(BIN)) throw new Error('build first: npm run build (npm test does it)');
    for (const c of broken) {
      const ws = workspaceWithState(c.name.startsWith('a state path') ? 'data/state.db' : undefined);
      const undo = c.make(ws);
      try {
        const res = await scimsync(['sync', '--config', ws.configPath], { TEST_TOKEN: TOKEN });
        expect(res.code, c.name).toBe(2);
        expect(res.stdout, c.name).toBe('');
        expectOneLine(res.stderr.trimEnd().split('\n'), brokenPath(c, ws), c.says);
        expect(res.stderr).not.toMatch(/\n\s+at /);
      } finally {
        if (undo) undo();
      }
    }
  });
});

const run = promisify(execFile);

async function scimsync(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
