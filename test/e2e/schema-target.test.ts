import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import winston from 'winston';
import { integrationSchema } from '../../src/config/schema.js';
import { runCycle } from '../../src/engine/cycle.js';
import { openStateStore } from '../../state/index.js';
import { describe, expect, it } from 'vitest';
import type { DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, type Workspace } from '../support/harness.js';
import { useSchemaProxy, type SchemaProxy, type SchemaProxyOptions } from '../support/schema-proxy.js';
import { deleteState, driftOf } from '../support/reconcile.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'schema-target-token';

let target: DevTarget;
let ws: Workspace;
let proxy: SchemaProxy | undefined;

useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

const startProxy = useSchemaProxy();

/** The devtarget behind a proxy that stores some attributes lower-cased and/or answers /Schemas with other facts. */
async function behindProxy(options: Omit<SchemaProxyOptions, 'upstream'>, integrationYaml?: string): Promise<void> {
  proxy = await startProxy(ws, { upstream: target.url, ...options }, integrationYaml ? { integrationYaml } : {});
}

const userOf = (sourceId: string) => [...target.users.values()].find((u) => u.externalId === sourceId);
const emailOf = (sourceId: string) => (userOf(sourceId)?.emails as { value: string }[] | undefined)?.[0]?.value;

describe('a target that stores emails lower-cased (emails are not caseExact, RFC 7643 §4.1.2)', () => {
  it('reconcile after a sync reports no drift; reconcile --apply twice sends nothing the second time; after state rebuild a sync sends nothing', async () => {
    await behindProxy({ lowerCase: ['emails'] });
    const d = makeDirectory(4);
    d.users[0]!.email = 'Ada.Lovelace@Example.com';
    d.users[1]!.email = 'GRACE@Example.com';
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(emailOf('u00000')).toBe('ada.lovelace@example.com');

    expect(await driftOf(ws)).toEqual([]);
    expect((await ws.run(['reconcile', '--apply'])).code).toBe(0);
    target.requests.length = 0;
    expect((await ws.run(['reconcile', '--apply'])).code).toBe(0);
    expect(target.writes()).toEqual([]);

    // State rebuilt from the target holds the lower-cased emails: the same values as the source's, to this target.
    deleteState(ws);
    expect((await ws.run(['state', 'rebuild', 'app'])).code).toBe(0);
    target.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.requests).toEqual([]);
  });
});

describe("the target's schema drives comparisons and writes", () => {
  it('compares a caseExact attribute exactly: a title the target stores lower-cased is drift', async () => {
    await behindProxy({ lowerCase: ['title'], schema: { title: { caseExact: true } } });
    const d = makeDirectory(3);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(userOf('u00001')!.title).toBe('engineer');
    const found = await driftOf(ws);
    expect(found.map((x) => [x.sourceId, x.path, x.pushed, x.actual])).toEqual([
      ['u00000', 'title', 'Manager', 'manager'],
      ['u00001', 'title', 'Engineer', 'engineer'],
      ['u00002', 'title', 'Engineer', 'engineer'],
    ]);
  });

  it('compares an attribute that is not caseExact without case: the same target, with RFC 7643 facts for title, shows no drift', async () => {
    await behindProxy({ lowerCase: ['title'] });
    ws.writeDirectory(makeDirectory(3));
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(userOf('u00001')!.title).toBe('engineer');
    expect(await driftOf(ws)).toEqual([]);
  });

  it('never sends a readOnly attribute, and sends an immutable one on create only', async () => {
    await behindProxy({ schema: { title: { mutability: 'immutable' }, phoneNumbers: { mutability: 'readOnly' } } });
    const d = makeDirectory(4);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const posts = target.writes().filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(4);
    for (const p of posts) expect(p.body).not.toHaveProperty('phoneNumbers');
    expect(userOf('u00003')!.title).toBe('Engineer');
    expect(userOf('u00003')!.phoneNumbers).toBeUndefined();

    // An immutable title is not updated; the other changes of the same user are.
    d.users[3]!.title = 'Director';
    d.users[3]!.familyName = 'Renamed';
    ws.writeDirectory(d);
    target.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    const patches = target.writes();
    expect(patches).toHaveLength(1);
    expect(JSON.stringify(patches[0]!.body)).not.toContain('title');
    expect(userOf('u00003')!.title).toBe('Engineer');
    expect((userOf('u00003')!.name as { familyName: string }).familyName).toBe('Renamed');
  });

  it('reads the schema once: the next cycles use the one kept in state', async () => {
    await behindProxy({});
    ws.writeDirectory(makeDirectory(2));
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.requests.filter((r) => r.path.endsWith('/Schemas'))).toHaveLength(1);
    target.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.requests).toEqual([]);
  });
});

describe('the mappings checked against the schema at the start of a cycle', () => {
  it('logs a warning for a mapped attribute the target lacks and an error for one it requires that no mapping fills, naming the mapping key', async () => {
    await behindProxy({ schema: { title: null, nickName: { required: true } } });
    ws.writeDirectory(makeDirectory(2));
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (c: Buffer) => lines.push(String(c).trim()));
    const logger = winston.createLogger({ level: 'warn', format: winston.format.printf((i) => `${i.level} ${String(i.message)}`), transports: [new winston.transports.Stream({ stream })] });
    const integration = integrationSchema.parse({
      name: 'app',
      source: { type: 'file', path: ws.sourcePath },
      target: { url: proxy!.url, auth: { type: 'bearer', token: TOKEN } },
    });
    const store = openStateStore(join(ws.dir, 'state.db'));
    try {
      await runCycle({ integration, store, logger });
    } finally {
      store.close();
    }
    expect(lines).toContain("warn profile mapping title: the target's schema has no attribute title (GET /Schemas)");
    expect(lines).toContain('error mappings.user.nickName: the target requires nickName and no mapping fills it (GET /Schemas)');
  });
});

describe('test-connection', () => {
  it('exits 1 on a base URL where the SCIM resource endpoints do not exist (404), instead of calling a 404 "no match"', async () => {
    const wrong = target.url.replace(/\/v2$/, '');
    ws.writeConfig({ targetUrl: wrong });
    const res = await ws.run(['test-connection']);
    expect(res.code).toBe(1);
    const out = res.out.join('\n');
    expect(out).toContain('problem: GET /Users: HTTP 404: the endpoint does not exist; check target.url');
    expect(out).toContain('problem: GET /Groups: HTTP 404: the endpoint does not exist');
    expect(out).not.toMatch(/lookup by userName: works|\bOK\b/);
  });

  it('exits 1 when /Users answers something that is not SCIM (a web page with 200)', async () => {
    target.inject({ method: 'GET', path: /\/Users\?count=1$/, responseBody: '<html><body>Welcome</body></html>', contentType: 'text/html' });
    const res = await ws.run(['test-connection']);
    expect(res.code).toBe(1);
    expect(res.out.join('\n')).toMatch(/problem: GET \/Users: HTTP 200, the target answered with a malformed JSON body: this is not a SCIM endpoint; check target.url/);
  });

  it('says OK on the right base URL, with the endpoints and the schema it read', async () => {
    const res = await ws.run(['test-connection']);
    expect(res.code).toBe(0);
    const out = res.out.join('\n');
    expect(out).toMatch(/\/Users: a SCIM ListResponse \(0 accounts\)/);
    expect(out).toMatch(/schema: \d+ User attributes read from \/Schemas/);
    expect(out).toContain('lookup by userName: works (0 matches');
    expect(res.out.at(-1)).toBe('  OK');
  });

  it('checks the mappings against the schema: a mapped attribute the target lacks is a warning, one it requires and no mapping fills an error (exit 1)', async () => {
    await behindProxy({ schema: { title: null } });
    let res = await ws.run(['test-connection']);
    expect(res.out).toContain("  warning: profile mapping title: the target's schema has no attribute title (GET /Schemas)");
    expect(res.code).toBe(0);

    proxy!.setSchema({ nickName: { required: true } });
    ws.writeConfig({ targetUrl: proxy!.url, integrationYaml: 'mappings:\n  user:\n    "urn:example:params:scim:schemas:extension:Acme:2.0:User:costCode": { from: costCode, required: true }' });
    res = await ws.run(['test-connection']);
    expect(res.code).toBe(1);
    expect(res.out).toContain('  problem: mappings.user.nickName: the target requires nickName and no mapping fills it (GET /Schemas)');
    expect(res.out).toContain(
      '  problem: mappings.user."urn:example:params:scim:schemas:extension:Acme:2.0:User:costCode": the target\'s User resource has no schema extension urn:example:params:scim:schemas:extension:Acme:2.0:User (GET /ResourceTypes)',
    );
  });
});
