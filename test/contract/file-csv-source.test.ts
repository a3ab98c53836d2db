import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { heldRows, sourceFromConfig, testSourceConnector, type Directory } from './source.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'scimsync-contract-csv-'));
const integration = 'contract-csv';
const csvSource = (path: string, groupsPath: string) => ({ source: sourceFromConfig({ type: 'file', path, groupsPath }, { dir, integration }) });

const cell = (v: string | boolean | undefined) => (v === undefined ? '' : `"${String(v).replace(/"/g, '""')}"`);
const csv = (header: string[], rows: (string | boolean | undefined)[][]) => [header.join(','), ...rows.map((r) => r.map(cell).join(','))].join('\n') + '\n';

/** The directory as a users CSV and a groups CSV (DESIGN.md, "The file source format"). */
function directoryCsv(directory: Directory): { users: string; groups: string } {
  const { users, groups } = heldRows(directory);
  return {
    users: csv(
      ['id', 'userName', 'givenName', 'familyName', 'email', 'title', 'phone', 'managerId', 'active'],
      users.map((u) => [u.key, u.userName, u.givenName, u.familyName, u.email, u.title, u.phone, u.manager, u.active]),
    ),
    groups: csv(['id', 'displayName', 'members'], groups.map((g) => [g.key, g.displayName, g.members.join(';')])),
  };
}

testSourceConnector('file (CSV)', {
  integration,
  async make(directory) {
    const { users, groups } = directoryCsv(directory);
    writeFileSync(join(dir, 'users.csv'), users);
    writeFileSync(join(dir, 'groups.csv'), groups);
    return { source: csvSource('users.csv', 'groups.csv').source, idOf: (key) => key };
  },
  unreadable: {
    'the users file does not exist': async () => csvSource('missing.csv', 'groups.csv'),
    'the groups file does not exist': async () => csvSource('users.csv', 'missing-groups.csv'),
    'the users file is empty (0 bytes)': async () => {
      writeFileSync(join(dir, 'empty-users.csv'), '');
      return csvSource('empty-users.csv', 'groups.csv');
    },
    'the groups file is empty (0 bytes)': async () => {
      writeFileSync(join(dir, 'empty-groups.csv'), '');
      return csvSource('users.csv', 'empty-groups.csv');
    },
    'the users file has a quote left open': async () => {
      writeFileSync(join(dir, 'open-quote.csv'), 'id,userName\n"u1,ada@example.com\n');
      return csvSource('open-quote.csv', 'groups.csv');
    },
  },
  async stop() {
    rmSync(dir, { recursive: true, force: true });
  },
});
