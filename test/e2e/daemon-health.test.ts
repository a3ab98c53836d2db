import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, requireBuild } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { openStateStore } from '../../state/index.js';
import type { Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'health-token';
let ws: Workspace;

requireBuild();
useStrictTarget(TOKEN, (_t, w) => {
  ws = w;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lastOutcome(w: Workspace): string | null | undefined {
  if (!existsSync(join(w.dir, 'state.db'))) return undefined;
  const store = openStateStore(join(w.dir, 'state.db'));
  try {
    return store.recentCycles('app', 1)[0]?.outcome;
  } finally {
    store.close();
  }
}

interface Health {
  healthy: boolean;
  integrations: { app: { healthy: boolean; reason: string | null; lastOutcome: string } };
}

describe('/healthz of a daemon whose source cannot be read', () => {
  for (const [what, write] of [
    ['a source file that is not JSON', (path: string) => writeFileSync(path, '{"users": [ this is not JSON')],
    ['a source file that is missing', () => undefined],
  ] as const) {
    it(`${what}: unhealthy, and the reason names the source, not the target`, async () => {
      const port = await freePort();
      ws.writeConfig({ integrationYaml: 'schedule: { every: 1s }' });
      writeFileSync(ws.configPath, `http: { listen: "127.0.0.1:${port}" }\n` + readFileSync(ws.configPath, 'utf8'));
      write(ws.sourcePath);
      const child = spawn(process.execPath, [BIN, 'daemon', '--config', ws.configPath], { env: { PATH: process.env.PATH, TEST_TOKEN: TOKEN } });
      child.stdout.resume();
      child.stderr.resume();
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      try {
        const end = Date.now() + 20_000;
        while (lastOutcome(ws) !== 'failed') {
          if (Date.now() > end) throw new Error('timed out waiting for a failed cycle');
          await sleep(100);
        }
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        expect(res.status).toBe(503);
        const body = (await res.json()) as Health;
        expect(body.integrations.app).toMatchObject({ healthy: false, lastOutcome: 'failed' });
        expect(body.integrations.app.reason).toMatch(new RegExp(`^the last cycle failed: the source could not be read: .*${ws.sourcePath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
        expect(body.integrations.app.reason).not.toMatch(/target/);
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
    }, 30_000);
  }
});
