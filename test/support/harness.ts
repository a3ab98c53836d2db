import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/context.js';

export interface DirectoryUser {
  id: string;
  userName: string;
  givenName?: string;
  familyName?: string;
  email?: string;
  title?: string;
  phone?: string;
  managerId?: string;
  active?: boolean;
  [extra: string]: unknown;
}

export interface Directory {
  users: DirectoryUser[];
  groups?: { id: string; displayName: string; members: string[] }[];
}

/** A directory of n people; every tenth reports to the first of their block. */
export function makeDirectory(n: number): Directory {
  const users: DirectoryUser[] = [];
  for (let i = 0; i < n; i++) {
    const id = `u${String(i).padStart(5, '0')}`;
    users.push({
      id,
      userName: `user${i}@example.com`,
      givenName: `Given${i}`,
      familyName: `Family${i}`,
      email: `user${i}@example.com`,
      title: i % 7 === 0 ? 'Manager' : 'Engineer',
      ...(i % 10 !== 0 ? { managerId: `u${String(i - (i % 10)).padStart(5, '0')}` } : {}),
      ...(i % 3 === 0 ? { phone: `+1 555 ${String(i).padStart(4, '0')}` } : {}),
      active: true,
    });
  }
  return { users, groups: [] };
}

export interface Workspace {
  dir: string;
  configPath: string;
  sourcePath: string;
  writeDirectory(d: Directory): void;
  writeConfig(extra?: { targetUrl?: string; token?: string; integrationYaml?: string; targetYaml?: string; raw?: string }): void;
  run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }>;
}

/**
 * A config's opening lines: the workspace's state file, the log level, and one integration `app` reading
 * the workspace's directory file, its target up to the bearer auth (the token read from TEST_TOKEN).
 * Callers add the target's other keys (6 spaces), the integration's (4) and top-level keys after them.
 */
export function configHead(ws: Pick<Workspace, 'dir' | 'sourcePath'>, options: { targetUrl: string; log?: 'error' | 'warn' }): string[] {
  return [
    'state:',
    `  path: ${join(ws.dir, 'state.db')}`,
    `log: { level: ${options.log ?? 'error'} }`,
    'integrations:',
    '  - name: app',
    `    source: { type: file, path: ${ws.sourcePath} }`,
    '    target:',
    `      url: ${options.targetUrl}`,
    '      auth: { type: bearer, token: "${TEST_TOKEN}" }',
  ];
}

export function workspace(targetUrl: string, token: string): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'scimsync-test-'));
  const configPath = join(dir, 'scimsync.yaml');
  const sourcePath = join(dir, 'directory.json');
  const ws: Workspace = {
    dir,
    configPath,
    sourcePath,
    writeDirectory(d) {
      writeFileSync(sourcePath, JSON.stringify(d));
    },
    writeConfig(extra = {}) {
      const text =
        extra.raw ??
        [
          ...configHead(ws, { targetUrl: extra.targetUrl ?? targetUrl }),
          '      rateLimit: { requestsPerSecond: 2000, maxConcurrent: 8 }',
          '      retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 }',
          ...(extra.targetYaml ? extra.targetYaml.split('\n').map((l) => `      ${l}`) : []),
          ...(extra.integrationYaml ? extra.integrationYaml.split('\n').map((l) => `    ${l}`) : []),
          '',
        ].join('\n');
      writeFileSync(configPath, text);
    },
    async run(args) {
      const out: string[] = [];
      const err: string[] = [];
      const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), isTty: false, env: { TEST_TOKEN: token } };
      const code = await runCli([...args, '--config', configPath], io);
      return { code, out, err };
    },
  };
  return ws;
}

