import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSource } from '../../connectors/file.js';
import { SourceError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'scimsync-src-'));
function file(name: string, text: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** A file's bytes from UTF-8 text pieces and raw bytes (as a Latin-1 editor would have saved them). */
function bytes(...parts: (string | number[])[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
}

async function failure(path: string, groupsPath?: string): Promise<unknown> {
  return fileSource({ integration: 'x', path, ...(groupsPath ? { groupsPath } : {}) }).snapshot().then(
    () => 'read',
    (e: unknown) => e,
  );
}

describe('file source', () => {
  it('reads the JSON format with extra attributes and groups', async () => {
    const path = file('d.json', JSON.stringify({
      users: [
        { id: 'u1', userName: 'ada@example.com', givenName: 'Ada', department: 'R&D', active: true },
        { id: 'u2', userName: 'alan@example.com', active: false, managerId: 'u1' },
      ],
      groups: [{ id: 'g1', displayName: 'Sales', members: ['u1', 'u2', 'u1'] }],
    }));
    const { snapshot, problems } = await fileSource({ integration: 'x', path }).snapshot();
    expect(problems).toEqual([]);
    expect(snapshot.users).toEqual([
      // The row is kept as read; its id and active are the user's fields.
      { id: 'u1', active: true, attributes: { id: 'u1', userName: 'ada@example.com', givenName: 'Ada', department: 'R&D', active: true } },
      { id: 'u2', active: false, attributes: { id: 'u2', userName: 'alan@example.com', active: false, managerId: 'u1' } },
    ]);
    expect(snapshot.groups).toEqual([{ id: 'g1', displayName: 'Sales', members: ['u1', 'u2'] }]);
  });

  it('trims text values and drops empty ones', async () => {
    const path = file('spaces.json', JSON.stringify({
      users: [{ id: ' u1 ', userName: '  ada@example.com ', givenName: 'Ada', title: '   ', phone: null, department: '' }],
      groups: [{ id: 'g1', displayName: ' Sales ', members: [' u1'] }],
    }));
    const { snapshot, problems } = await fileSource({ integration: 'x', path }).snapshot();
    expect(problems).toEqual([]);
    expect(snapshot.users).toEqual([{ id: 'u1', active: true, attributes: { id: 'u1', userName: 'ada@example.com', givenName: 'Ada' } }]);
    expect(snapshot.groups).toEqual([{ id: 'g1', displayName: 'Sales', members: ['u1'] }]);
  });

  it('reports duplicate ids, missing userName, bad active and dangling members, and keeps the rest', async () => {
    const path = file('bad.json', JSON.stringify({
      users: [
        { id: 'u1', userName: 'a@x' },
        { id: 'u1', userName: 'b@x' },
        { id: 'u2' },
        { id: 'u3', userName: 'c@x', active: 'maybe' },
        'not an object',
        { id: 'u4', userName: 'd@x' },
      ],
      groups: [{ id: 'g1', displayName: 'G', members: ['u4', 'ghost'] }],
    }));
    const { snapshot, problems } = await fileSource({ integration: 'x', path }).snapshot();
    expect(snapshot.users.map((u) => u.id)).toEqual(['u4']);
    expect(snapshot.groups[0]!.members).toEqual(['u4']);
    // Every row with a readable id names it, so that the engine holds that user as it is.
    expect(problems.map((p) => `${p.location} [${p.sourceId ?? ''}]: ${p.message}`).sort()).toEqual([
      'bad.json groups[0] [g1]: member "ghost" is not a known user or group',
      'bad.json users[0] [u1]: duplicate id "u1"',
      'bad.json users[1] [u1]: duplicate id "u1"',
      'bad.json users[2] [u2]: missing userName',
      'bad.json users[3] [u3]: active must be true or false, got "maybe"',
      'bad.json users[4] []: malformed row: expected an object',
    ]);
  });

  it('reads a CSV pair and reports malformed rows by line', async () => {
    const users = file('users.csv', 'id,userName,givenName,active\nu1,ada@x,Ada,true\nu2,alan@x\nu3,grace@x,Grace,false\n');
    const groups = file('groups.csv', 'id,displayName,members\ng1,Sales,u1;u3\n');
    const { snapshot, problems } = await fileSource({ integration: 'x', path: users, groupsPath: groups }).snapshot();
    expect(snapshot.users.map((u) => [u.id, u.active])).toEqual([['u1', true], ['u3', false]]);
    expect(snapshot.groups).toEqual([{ id: 'g1', displayName: 'Sales', members: ['u1', 'u3'] }]);
    expect(problems).toEqual([{ location: 'users.csv:3', sourceId: 'u2', message: 'malformed row: expected 4 columns, got 2' }]);
  });

  it('fails a truncated JSON file with the file and position', async () => {
    const path = file('cut.json', '{"users":[\n  {"id":"u1","userName":"a@x"},\n  {"id":"u2","userN');
    const err = await fileSource({ integration: 'gong', path }).snapshot().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toMatch(/^\[scimsync\] \[integration gong\] source: .*cut\.json:3:\d+: malformed JSON/);
  });

  it('fails an unreadable file and a broken CSV clearly', async () => {
    const missing = await fileSource({ integration: 'x', path: join(dir, 'nope.json') }).snapshot().catch((e: Error) => e.message);
    expect(missing).toMatch(/nope\.json: cannot read the file \(ENOENT\)/);
    const csv = file('broken.csv', 'id,userName\nu1,"unclosed\n');
    const broken = await fileSource({ integration: 'x', path: csv }).snapshot().catch((e: Error) => e.message);
    expect(broken).toMatch(/broken\.csv:\d+: malformed CSV/);
  });

  it('fails a JSON file with a byte that is not UTF-8, naming the file, the byte, its line and column', async () => {
    // "Zoë" is two bytes for one character: the column counts characters.
    const before = '{"users":[\n  {"id":"u1","userName":"ada@x"},\n  {"id":"u2","givenName":"Zoë","userName":"Ren';
    const path = file('latin1.json', bytes(before, [0xe9], 'e@x"}\n]}'));
    const err = await failure(path);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as SourceError).exitCode).toBe(2);
    const offset = Buffer.byteLength(before);
    expect(offset).not.toBe(before.length);
    expect((err as Error).message).toBe(
      `[scimsync] [integration x] source: ${path}: invalid UTF-8 at byte ${offset} (line 3, column 47): 0xE9; save the file as UTF-8`,
    );
  });

  it('finds overlong, surrogate and cut sequences that a decoder would turn into U+FFFD', async () => {
    const cases: [number[], string][] = [
      [[0xc0, 0xaf], '0xC0'], // an overlong "/"
      [[0xed, 0xa0, 0x80], '0xED'], // a UTF-16 surrogate
      [[0xe2, 0x82], '0xE2 0x82'], // "€" cut short
      [[0xf4, 0x90, 0x80, 0x80], '0xF4'], // past U+10FFFF
    ];
    for (const [bad, shown] of cases) {
      const path = file('seq.json', bytes('{"users":[{"id":"u1","userName":"a', bad, '"}]}'));
      expect(((await failure(path)) as Error).message).toMatch(new RegExp(`byte 34 \\(line 1, column 35\\): ${shown};`));
    }
  });

  it('names a UTF-16 file as such, and reads a UTF-8 file that starts with a byte order mark', async () => {
    const utf16 = file('utf16.json', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"users":[]}', 'utf16le')]));
    expect(((await failure(utf16)) as Error).message).toMatch(/utf16\.json: the file is UTF-16; save it as UTF-8$/);
    const bom = file('bom.json', bytes([0xef, 0xbb, 0xbf], JSON.stringify({ users: [{ id: 'u1', userName: 'zoë@x' }] })));
    const { snapshot } = await fileSource({ integration: 'x', path: bom }).snapshot();
    expect(snapshot.users.map((u) => u.attributes.userName)).toEqual(['zoë@x']);
  });

  it('rejects only the CSV row with a byte that is not UTF-8, with its line and id, and keeps the others', async () => {
    // A quoted cell on two lines and a blank line come before: the row is on line 6.
    const path = file(
      'latin1.csv',
      bytes('id,userName,givenName,notes\nu1,ada@x,Ada,"two\nlines"\n\nu2,grace@x,Grace,\nu3,renee@x,Ren', [0xe9], 'e,\nu4,alan@x,Alan,\n'),
    );
    const { snapshot, problems } = await fileSource({ integration: 'x', path }).snapshot();
    expect(snapshot.users.map((u) => u.id)).toEqual(['u1', 'u2', 'u4']);
    expect(snapshot.users.map((u) => u.attributes.givenName).join('')).not.toMatch(/\uFFFD/);
    const offset = Buffer.byteLength('id,userName,givenName,notes\nu1,ada@x,Ada,"two\nlines"\n\nu2,grace@x,Grace,\nu3,renee@x,Ren');
    expect(problems).toEqual([
      { location: 'latin1.csv:6', sourceId: 'u3', message: `malformed row: invalid UTF-8 at byte ${offset} (line 6, column 15): 0xE9; save the file as UTF-8` },
    ]);
  });

  it('uses neither row of an id that a bad-byte row shares with a good one', async () => {
    const path = file('dup.csv', bytes('id,userName,givenName\nu1,ren', [0xe9], 'e@x,Renee\nu1,renee@x,Renee\nu2,ada@x,Ada\n'));
    const { snapshot, problems } = await fileSource({ integration: 'x', path }).snapshot();
    expect(snapshot.users.map((u) => u.id)).toEqual(['u2']);
    expect(problems.map((p) => [p.location, p.sourceId, p.message.split(' (')[0]])).toEqual([
      ['dup.csv:2', 'u1', 'malformed row: invalid UTF-8 at byte 28'],
      ['dup.csv:3', 'u1', 'duplicate id "u1"'],
    ]);
  });

  it('fails the whole CSV source when the bad byte leaves a row without a readable id, or is in the header or the groups file', async () => {
    const inId = file('id.csv', bytes('id,userName\nu1,ada@x\nu', [0xe9], '2,renee@x\n'));
    const idErr = await failure(inId);
    expect(idErr).toBeInstanceOf(SourceError);
    expect((idErr as Error).message).toMatch(/id\.csv: invalid UTF-8 at byte 22 \(line 3, column 2\): 0xE9, and the id of that row is unreadable/);

    const inHeader = file('header.csv', bytes('id,userName,pr', [0xe9], 'nom\nu1,ada@x,Ada\n'));
    expect(((await failure(inHeader)) as Error).message).toMatch(/header\.csv: invalid UTF-8 at byte 14 \(line 1, column 15\): 0xE9, in the header; save the file as UTF-8/);

    const users = file('users-ok.csv', 'id,userName\nu1,ada@x\n');
    const groups = file('groups-latin1.csv', bytes('id,displayName,members\ng1,Ing', [0xe9], 'nieurs,u1\n'));
    const groupsErr = await failure(users, groups);
    expect(groupsErr).toBeInstanceOf(SourceError);
    expect((groupsErr as Error).message).toMatch(/groups-latin1\.csv: invalid UTF-8 at byte 29 \(line 2, column 7\): 0xE9; save the file as UTF-8$/);
  });

  it('reports a control character in a userName or an email as a problem of that user, and keeps tabs and trimmed line ends', async () => {
    const path = file('control.json', JSON.stringify({
      users: [
        { id: 'u1', userName: 'ada@x\n2026-01-01 info user_create_provision success: created root' },
        { id: 'u2', userName: 'grace@x', email: 'grace\u001b[31m@x' },
        { id: 'u3', userName: '🙂alan\u2028@x' },
        { id: 'u4', userName: 'edsger@x', email: 'edsger@x\u0085' },
        { id: 'u5', userName: 'barbara\t@x' },
        { id: 'u6', userName: 'ken@x\r\n', givenName: 'Ken\nThompson' },
      ],
    }));
    const { snapshot, problems } = await fileSource({ integration: 'x', path }).snapshot();
    expect(snapshot.users.map((u) => u.id)).toEqual(['u5', 'u6']);
    expect(snapshot.users[1]!.attributes.userName).toBe('ken@x');
    expect(problems).toEqual([
      { location: 'control.json users[0]', sourceId: 'u1', message: 'userName contains a control character (U+000A at character 6)' },
      { location: 'control.json users[1]', sourceId: 'u2', message: 'email contains a control character (U+001B at character 6)' },
      { location: 'control.json users[2]', sourceId: 'u3', message: 'userName contains a control character (U+2028 at character 6)' },
      { location: 'control.json users[3]', sourceId: 'u4', message: 'email contains a control character (U+0085 at character 9)' },
    ]);
  });
});
