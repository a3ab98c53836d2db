import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSource } from '../../connectors/file.js';
import { SourceError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'scimsync-src-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
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
    expect(problems.map((p) => `${p.location}: ${p.message}`).sort()).toEqual([
      'bad.json groups[0]: member "ghost" is not a known user or group',
      'bad.json users[0]: duplicate id "u1"',
      'bad.json users[1]: duplicate id "u1"',
      'bad.json users[2]: missing userName',
      'bad.json users[3]: active must be true or false, got "maybe"',
      'bad.json users[4]: malformed row: expected an object',
    ]);
  });

  it('reads a CSV pair and reports malformed rows by line', async () => {
    const users = file('users.csv', 'id,userName,givenName,active\nu1,ada@x,Ada,true\nu2,alan@x\nu3,grace@x,Grace,false\n');
    const groups = file('groups.csv', 'id,displayName,members\ng1,Sales,u1;u3\n');
    const { snapshot, problems } = await fileSource({ integration: 'x', path: users, groupsPath: groups }).snapshot();
    expect(snapshot.users.map((u) => [u.id, u.active])).toEqual([['u1', true], ['u3', false]]);
    expect(snapshot.groups).toEqual([{ id: 'g1', displayName: 'Sales', members: ['u1', 'u3'] }]);
    expect(problems).toEqual([{ location: 'users.csv:3', message: 'malformed row: expected 4 columns, got 2' }]);
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
});
