import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIRECTORY, heldRows, sourceFromConfig, testSourceConnector, type Directory } from './source.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'scimsync-contract-json-'));
const integration = 'contract-json';
const fileSource = (path: string) => ({ source: sourceFromConfig({ type: 'file', path }, { dir, integration }) });

/** The directory as DESIGN.md's JSON file format writes it. */
function directoryJson(directory: Directory): string {
  const { users, groups } = heldRows(directory);
  return JSON.stringify({
    users: users.map((u) => ({
      id: u.key,
      userName: u.userName,
      givenName: u.givenName,
      familyName: u.familyName,
      email: u.email,
      ...(u.title !== undefined ? { title: u.title } : {}),
      ...(u.phone !== undefined ? { phone: u.phone } : {}),
      ...(u.manager !== undefined ? { managerId: u.manager } : {}),
      active: u.active,
    })),
    groups: groups.map((g) => ({ id: g.key, displayName: g.displayName, members: g.members })),
  });
}

testSourceConnector('file (JSON)', {
  integration,
  async make(directory) {
    writeFileSync(join(dir, 'directory.json'), directoryJson(directory));
    return { source: sourceFromConfig({ type: 'file', path: 'directory.json' }, { dir, integration }), idOf: (key) => key };
  },
  unreadable: {
    'the file does not exist': async () => fileSource('missing.json'),
    'the file is empty (0 bytes)': async () => {
      writeFileSync(join(dir, 'empty.json'), '');
      return fileSource('empty.json');
    },
    'the file is cut off halfway': async () => {
      const whole = directoryJson(DIRECTORY);
      writeFileSync(join(dir, 'cut.json'), whole.slice(0, Math.floor(whole.length / 2)));
      return fileSource('cut.json');
    },
    'the JSON holds no "users" list': async () => {
      writeFileSync(join(dir, 'other.json'), JSON.stringify({ people: [] }));
      return fileSource('other.json');
    },
  },
  async stop() {
    rmSync(dir, { recursive: true, force: true });
  },
});
