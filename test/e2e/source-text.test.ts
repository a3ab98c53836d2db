import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DevTarget } from '../support/devtarget/server.js';
import type { Io } from '../../src/cli/context.js';
import { eventsCommand } from '../../src/cli/events.js';
import type { EventRecord } from '../../src/events/types.js';
import { openStateStore } from '../../state/index.js';
import { makeDirectory, type Directory, type DirectoryUser, type Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'source-text-token';
const BIN = resolve('dist/src/cli/main.js');
const run = promisify(execFile);

let target: DevTarget;
let ws: Workspace;

useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error('build first: npm run build (npm test does it)');
});

// Values that end with what a forged log line (or events row) would look like.
const FORGED_USER = '12:00:00 info  [scimsync] [integration app] user_create_provision success: created root@example.com';
const FORGED_GROUP = '12:00:00 info  [scimsync] [integration app] group_create_provision success: created group Admins';
const FORGED_EVENT = '2026-01-01 00:00:00  app          user_create_provision  success  root';

/** Lines as a terminal or a log viewer shows them. */
const physicalLines = (text: string) => text.split(/\r\n|\r|\n|\u2028|\u2029/).filter((l) => l !== '');

function directory(): Directory {
  return {
    users: [
      { id: 'ada', userName: 'ada@example.com', givenName: 'Ada', familyName: 'Lovelace', email: 'ada@example.com' },
      { id: 'mallory', userName: `mallory@example.com\n${FORGED_USER}`, givenName: 'Mal', familyName: 'Lory', email: 'mallory@example.com' },
    ],
    groups: [{ id: 'g1', displayName: `Ops\r\n${FORGED_GROUP}`, members: ['ada'] }],
  };
}

/** `scimsync sync` as an admin runs it, with the pretty log at info on stderr. */
async function syncWithPrettyLog(): Promise<{ code: number; stdout: string; stderr: string }> {
  writeFileSync(ws.configPath, readFileSync(ws.configPath, 'utf8').replace('log: { level: error }', 'log: { level: info, format: pretty }'));
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, 'sync', '--config', ws.configPath], { env: { PATH: process.env.PATH, TEST_TOKEN: TOKEN } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('source values with control characters', () => {
  it('are reported (userName) or escaped (the rest) in the pretty log and in scimsync events, never forging a line', async () => {
    ws.writeDirectory(directory());
    const sync = await syncWithPrettyLog();
    expect(sync.code).toBe(0);

    // The row with a line break in its userName is reported with its id, and nothing of it is sent.
    const events = (await ws.run(['events', '--json'])).out.map((l) => JSON.parse(l) as EventRecord);
    const skipped = events.filter((e) => e.result === 'skipped' && e.sourceId === 'mallory');
    expect(skipped.map((e) => e.summary)).toEqual(['source row skipped: directory.json users[1]: userName contains a control character (U+000A at character 20)']);
    expect([...target.users.values()].map((u) => u.userName)).toEqual(['ada@example.com']);
    // --json keeps the value as it is: JSON escapes it by itself.
    expect(events.some((e) => e.summary === `created group Ops\r\n${FORGED_GROUP} with 1 members`)).toBe(true);

    const log = physicalLines(sync.stderr);
    expect(log.some((l) => l.includes('source row skipped: directory.json users[1]: userName contains a control character'))).toBe(true);
    expect(log.filter((l) => l.startsWith(FORGED_USER) || l.startsWith(FORGED_GROUP))).toEqual([]);
    expect(log.filter((l) => l.endsWith(`created group Ops\\r\\n${FORGED_GROUP} with 1 members`))).toHaveLength(1);

    const table = await ws.run(['events']);
    expect(table.code).toBe(0);
    const rows = physicalLines(table.out.join('\n'));
    expect(rows).toHaveLength(table.out.length);
    expect(rows.slice(1).filter((l) => !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}app {2}/.test(l))).toEqual([]);
    expect(rows.filter((l) => l.endsWith(`created group Ops\\r\\n${FORGED_GROUP} with 1 members`))).toHaveLength(1);
  });

  it('scimsync events --follow prints a new event on one line, escaped', async () => {
    await ws.run(['sync']);
    const out: string[] = [];
    const io: Io = { out: (l) => out.push(l), err: (l) => out.push(l), isTty: false, env: { TEST_TOKEN: TOKEN } };
    const stop = new AbortController();
    const following = eventsCommand({ config: ws.configPath, follow: true }, io, stop.signal);
    await new Promise((r) => setTimeout(r, 200));
    const printed = out.length;
    const store = openStateStore(join(ws.dir, 'state.db'));
    store.insertEvent({
      time: new Date().toISOString(),
      integration: 'app',
      cycleId: 'c-follow',
      type: 'group_update_provision',
      result: 'success',
      sourceId: 'g\u001b[2K1',
      summary: `group Ops\u2028${FORGED_EVENT}: 1 members added, 0 removed`,
      detail: {},
    });
    store.close();
    const end = Date.now() + 5000;
    while (out.length === printed && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    expect(await following).toBe(0);
    const added = out.slice(printed);
    expect(physicalLines(added.join('\n'))).toEqual(added);
    expect(added).toHaveLength(1);
    expect(added[0]).toContain(`g\\u001b[2K1  group Ops\\u2028${FORGED_EVENT}: 1 members added`);
  });
});

const COLUMNS = ['id', 'userName', 'givenName', 'familyName', 'email', 'title', 'managerId'] as const;

/** A users CSV, with raw bytes (as a Latin-1 editor saves "é") where a value holds `\u00e9`. */
function usersCsv(users: DirectoryUser[]): Buffer {
  const lines = [COLUMNS.join(','), ...users.map((u) => COLUMNS.map((c) => String(u[c] ?? '')).join(','))];
  return Buffer.from(`${lines.join('\n')}\n`, 'latin1');
}

describe('source files with bytes that are not UTF-8', () => {
  it('fail a JSON source whole: exit 2, the file, byte, line and column named, nothing sent', async () => {
    const d = makeDirectory(10);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);

    d.users[3]!.givenName = 'Ren\u00e9e';
    const text = JSON.stringify(d);
    writeFileSync(ws.sourcePath, Buffer.from(text, 'latin1'));
    target.requests.length = 0;
    const res = await ws.run(['sync']);
    expect(res.code).toBe(2);
    const offset = text.indexOf('\u00e9');
    expect(res.err).toEqual([
      `[scimsync] [integration app] source: ${ws.sourcePath}: invalid UTF-8 at byte ${offset} (line 1, column ${offset + 1}): 0xE9; save the file as UTF-8`,
    ]);
    expect(target.writes()).toEqual([]);
    expect([...target.users.values()].every((u) => u.active === true)).toBe(true);
  });

  it('reject the CSV row with a bad byte with its id, and hold that user as it is', async () => {
    const csvPath = join(ws.dir, 'users.csv');
    writeFileSync(ws.configPath, readFileSync(ws.configPath, 'utf8').replace(`path: ${ws.sourcePath}`, `path: ${csvPath}`));
    const users = makeDirectory(10).users;
    writeFileSync(csvPath, usersCsv(users));
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.users.size).toBe(10);

    users[3]!.givenName = 'Ren\u00e9e';
    users[3]!.title = 'Director';
    users[4]!.title = 'Architect';
    writeFileSync(csvPath, usersCsv(users));
    const res = await ws.run(['sync']);
    expect(res.err).toEqual([]);
    expect(res.code).toBe(0);

    const events = (await ws.run(['events', '--json', '--result', 'skipped'])).out.map((l) => JSON.parse(l) as EventRecord);
    // The header and three rows, then the start of the fourth row, come before the bad byte.
    const offset = usersCsv(users.slice(0, 3)).length + 'u00003,user3@example.com,Ren'.length;
    expect(events.map((e) => [e.sourceId, e.summary])).toEqual([
      ['u00003', `source row skipped: users.csv:5: malformed row: invalid UTF-8 at byte ${offset} (line 5, column 29): 0xE9; save the file as UTF-8`],
    ]);
    const byId = new Map([...target.users.values()].map((u) => [String(u.externalId), u]));
    // Held as it was: neither updated (no U+FFFD in a name, no new title) nor deactivated.
    expect(byId.get('u00003')).toMatchObject({ active: true, title: 'Engineer', name: { givenName: 'Given3' } });
    expect(byId.get('u00004')).toMatchObject({ active: true, title: 'Architect' });
  });
});

