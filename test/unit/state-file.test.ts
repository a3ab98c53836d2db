import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { integrationSchema, type IntegrationConfig } from '../../src/config/schema.js';
import { configChanged, credentialsChanged, integrationHashes } from '../../src/engine/integration-hashes.js';
import { StateFileError } from '../../src/errors.js';
import { migrations } from '../../state/sqlite/migrations.js';
import { openStateStore } from '../../state/index.js';

const folder = () => mkdtempSync(join(tmpdir(), 'scimsync-state-file-'));
const modeOf = (path: string) => statSync(path).mode & 0o777;

function integration(token: string, url = 'https://target.test/scim/v2'): IntegrationConfig {
  return integrationSchema.parse({
    name: 'app',
    source: { type: 'file', path: '/unused.json' },
    target: { url, auth: { type: 'bearer', token } },
  });
}

/** The unkeyed fingerprints scimsync stored before its states had a key. */
function legacyHashes(i: IntegrationConfig): { configHash: string; authHash: string } {
  const { auth, ...target } = i.target;
  const sha = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex');
  return { configHash: sha({ ...i, target }), authHash: sha(auth) };
}

/** A state with a few users, closed: a real file as scimsync leaves it. */
function realState(path: string, users = 2000): void {
  const store = openStateStore(path);
  store.transaction(() => {
    for (let i = 0; i < users; i++) {
      store.saveUser('app', { sourceId: `u${i}`, targetId: `t${i}`, status: 'active', attrs: { userName: `user${i}@example.com`, title: 'Engineer' } });
    }
  });
  store.close();
}

function openError(path: string): StateFileError {
  try {
    openStateStore(path).close();
  } catch (err) {
    if (err instanceof StateFileError) return err;
    throw err;
  }
  throw new Error(`${path} opened`);
}

/**
 * Makes `path` a file its owner cannot write: as root (who writes through any mode) the
 * immutable attribute, else the mode. Returns how to undo it.
 */
function readOnly(path: string): () => void {
  if (process.getuid?.() === 0) {
    execFileSync('chattr', ['+i', path]);
    return () => execFileSync('chattr', ['-i', path]);
  }
  chmodSync(path, 0o444);
  return () => chmodSync(path, 0o600);
}

describe('a new state file', () => {
  it('is created 0600 with its -wal and -shm, in folders created 0700, whatever the umask', () => {
    const root = folder();
    chmodSync(root, 0o755);
    const path = join(root, 'data', 'scimsync', 'state.db');
    const umask = process.umask(0);
    try {
      const store = openStateStore(path);
      store.saveUser('app', { sourceId: 'u1', targetId: 't1', status: 'active', attrs: { userName: 'ada@example.com' } });
      store.flush();
      expect(readdirSync(join(root, 'data', 'scimsync')).sort()).toEqual(['state.db', 'state.db-shm', 'state.db-wal']);
      expect([path, `${path}-wal`, `${path}-shm`].map(modeOf)).toEqual([0o600, 0o600, 0o600]);
      expect([join(root, 'data'), join(root, 'data', 'scimsync')].map(modeOf)).toEqual([0o700, 0o700]);
      // A folder scimsync did not create keeps its mode.
      expect(modeOf(root)).toBe(0o755);
      store.close();
    } finally {
      process.umask(umask);
    }
  });

  it('starts afresh where no file exists, and keeps what it wrote', () => {
    const path = join(folder(), 'state.db');
    realState(path, 3);
    const store = openStateStore(path);
    expect(store.loadUsers('app').map((u) => u.sourceId).sort()).toEqual(['u0', 'u1', 'u2']);
    store.close();
  });
});

describe('a state file that cannot be used', () => {
  it('is refused when empty (0 bytes), with how to restore it or start afresh, and left as it is', () => {
    const path = join(folder(), 'state.db');
    writeFileSync(path, '');
    const err = openError(path);
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/empty \(0 bytes\)/);
    expect(err.message).toMatch(/restore it from a backup/);
    expect(err.message).toMatch(/to start afresh, delete it/);
    expect(err.exitCode).toBe(2);
    expect(statSync(path).size).toBe(0);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('is refused when it is not a database, and left as it is', () => {
    const path = join(folder(), 'state.db');
    const bytes = randomBytes(16384);
    writeFileSync(path, bytes);
    const err = openError(path);
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/damaged or truncated .*restore it from a backup, or move it aside and run `scimsync state rebuild <integration>`/);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it('is refused when a real state was cut in half, and left as it is', () => {
    const path = join(folder(), 'state.db');
    realState(path);
    const whole = readFileSync(path);
    expect(whole.length).toBeGreaterThan(64 * 1024);
    const half = whole.subarray(0, whole.length / 2);
    writeFileSync(path, half);
    const err = openError(path);
    expect(err.message).toMatch(/damaged or truncated/);
    expect(err.message).toMatch(/scimsync state rebuild/);
    expect(readFileSync(path).equals(half)).toBe(true);
  });

  it('is refused when it cannot be written, before anything is read or written', () => {
    const path = join(folder(), 'state.db');
    realState(path, 3);
    const undo = readOnly(path);
    try {
      const err = openError(path);
      expect(err.message).toContain(path);
      expect(err.message).toMatch(/cannot be written \((EACCES|EPERM)\): .*make the file and its folder writable/);
    } finally {
      undo();
    }
    // Writable again, the same state opens with what it held.
    const store = openStateStore(path);
    expect(store.loadUsers('app')).toHaveLength(3);
    store.close();
  });

  it('is refused when its folder cannot be created', () => {
    const root = folder();
    writeFileSync(join(root, 'data'), 'a file where the folder should be');
    const path = join(root, 'data', 'state', 'state.db');
    const err = openError(path);
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/cannot create its folder .*data\/state \(ENOTDIR: a part of that path is a file, not a folder\): create it, or set state\.path/);
  });

  it('is refused when the path is a folder', () => {
    const path = join(folder(), 'state.db');
    mkdirSync(path);
    expect(openError(path).message).toMatch(/is a folder, not a state file: set state\.path to a file/);
  });
});

describe('integration fingerprints', () => {
  it('differ between two states for the same token, and are not the plain sha256 of it', () => {
    const a = openStateStore(join(folder(), 'state.db'));
    const b = openStateStore(join(folder(), 'state.db'));
    const app = integration('the-same-token');
    const [ka, kb] = [a.fingerprintKey(), b.fingerprintKey()];
    expect(ka).toHaveLength(32);
    expect(ka.equals(kb)).toBe(false);
    const [ha, hb] = [integrationHashes(app, ka), integrationHashes(app, kb)];
    expect(ha.authHash).not.toBe(hb.authHash);
    expect(ha.configHash).not.toBe(hb.configHash);
    expect(ha.authHash).toMatch(/^v2:[0-9a-f]{64}$/);
    expect(ha.authHash).not.toContain(legacyHashes(app).authHash);
    a.close();
    b.close();
  });

  it('keep the key of a state from one opening to the next', () => {
    const path = join(folder(), 'state.db');
    const first = openStateStore(path);
    const key = Buffer.from(first.fingerprintKey());
    first.close();
    const again = openStateStore(path);
    expect(again.fingerprintKey().equals(key)).toBe(true);
    again.close();
  });

  it('tell a credential change from a config change, keyed or legacy', () => {
    const store = openStateStore(join(folder(), 'state.db'));
    const key = store.fingerprintKey();
    const app = integration('token-1');
    const newToken = integration('token-2');
    const newUrl = integration('token-1', 'https://other.test/scim/v2');
    for (const stored of [integrationHashes(app, key), legacyHashes(app)]) {
      expect(credentialsChanged(stored.authHash, app, key)).toBe(false);
      expect(configChanged(stored.configHash, app, key)).toBe(false);
      expect(credentialsChanged(stored.authHash, newToken, key)).toBe(true);
      expect(configChanged(stored.configHash, newToken, key)).toBe(false);
      expect(credentialsChanged(stored.authHash, newUrl, key)).toBe(false);
      expect(configChanged(stored.configHash, newUrl, key)).toBe(true);
    }
    // A fingerprint made with another state's key does not pass for this one's.
    const other = openStateStore(join(folder(), 'state.db'));
    expect(credentialsChanged(integrationHashes(app, other.fingerprintKey()).authHash, app, key)).toBe(true);
    other.close();
    store.close();
  });

  it('get a key on upgrade, while the legacy fingerprints stored stay and still compare equal', () => {
    const path = join(folder(), 'state.db');
    const old = new Database(path);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    for (const m of migrations.filter((m) => m.version <= 6)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(m.version, '2026-01-01T00:00:00Z');
    }
    const app = integration('token-1');
    const legacy = legacyHashes(app);
    old.prepare(`INSERT INTO integrations (name, config_hash, auth_hash, created_at, updated_at) VALUES ('app', ?, ?, 'x', 'x')`).run(legacy.configHash, legacy.authHash);
    old.close();

    const store = openStateStore(path);
    expect(store.getIntegration('app')).toEqual({ name: 'app', ...legacy });
    const key = store.fingerprintKey();
    expect(key).toHaveLength(32);
    expect(credentialsChanged(legacy.authHash, app, key)).toBe(false);
    expect(configChanged(legacy.configHash, app, key)).toBe(false);
    expect(credentialsChanged(legacy.authHash, integration('token-2'), key)).toBe(true);
    store.close();
  });
});
