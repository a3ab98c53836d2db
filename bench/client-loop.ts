/**
 * The initial push's requests sent by a plain loop, in a process of its own so
 * that its wall time (process start included), CPU and peak memory compare
 * with `scimsync sync`'s:
 *
 *   node client-loop.js <mode> <directory.json> <url> <concurrency>
 *
 * Modes, from the floor up:
 *   node-http     a raw keep-alive `node:http` loop (the floor);
 *   axios-node    axios with scimsync's options but axios's own Node adapter;
 *   axios         axios with scimsync's options (its adapter included);
 *   client        scimsync's ScimClient (`createUser`), as a cycle makes it.
 *
 * Each reads the directory and builds the bodies, reads the user list once
 * (the engine's first-run matching read against an empty target), creates
 * every manager, then everyone else with their manager's id: the engine's
 * requests. Same bodies, same concurrency, only the HTTP layer differs.
 */
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import axios from 'axios';
import { ScimClient } from '../src/scim/client.js';
import { scimHttpOptions } from '../src/scim/http.js';
import { deliveryLimiter } from '../src/delivery/rate.js';

type Send = (method: 'GET' | 'POST', path: string, body?: string) => Promise<string>;

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const TOKEN = 'Bearer bench';

function rawSender(baseUrl: string, concurrency: number): Send {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const base = url.pathname.replace(/\/+$/, '');
  return (method, path, body) =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Accept: 'application/scim+json, application/json', Authorization: TOKEN };
      if (body !== undefined) {
        headers['Content-Type'] = 'application/scim+json';
        headers['Content-Length'] = String(Buffer.byteLength(body));
      }
      const req = request({ agent, hostname: url.hostname, port: url.port, method, path: base + path, headers }, (res) => {
        res.setEncoding('utf8');
        let text = '';
        res.on('data', (c: string) => (text += c));
        res.on('end', () => (res.statusCode! < 300 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}`))));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
}

function axiosSender(baseUrl: string, options: { ownAdapter: boolean }): Send {
  const http = axios.create({ ...scimHttpOptions(baseUrl), ...(options.ownAdapter ? {} : { adapter: 'http' }) });
  http.defaults.headers.common.Authorization = TOKEN;
  return async (method, path, body) => {
    const res = await http.request<string>(body === undefined ? { method, url: path } : { method, url: path, data: body });
    if (res.status >= 300) throw new Error(`HTTP ${res.status}`);
    return res.data;
  };
}

/** The client parses answers itself: the loop gets them back as text to keep one shape. */
function clientSender(baseUrl: string, concurrency: number): Send {
  const client = new ScimClient({
    baseUrl,
    auth: { type: 'bearer', token: 'bench' },
    timeoutMs: 60_000,
    limiter: deliveryLimiter({ requestsPerSecond: 1_000_000, maxConcurrent: concurrency }),
    retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
  });
  return async (method, path, body) => {
    if (method === 'POST') return JSON.stringify((await client.createUser(JSON.parse(body!) as Record<string, unknown>)).resource);
    return JSON.stringify((await client.request(method, path)).data);
  };
}

/** Runs `job(i)` for every index, `concurrency` at a time. */
async function pool(indexes: number[], concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < indexes.length) await job(indexes[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, indexes.length) }, worker));
}

async function main(): Promise<void> {
  const [mode, directory, url, c] = process.argv.slice(2) as [string, string, string, string];
  const concurrency = Number(c);
  const send =
    mode === 'node-http'
      ? rawSender(url, concurrency)
      : mode === 'axios-node'
        ? axiosSender(url, { ownAdapter: false })
        : mode === 'axios'
          ? axiosSender(url, { ownAdapter: true })
          : mode === 'client'
            ? clientSender(url, concurrency)
            : undefined;
  if (!send) throw new Error(`unknown mode ${mode}`);
  const source = JSON.parse(readFileSync(directory, 'utf8')) as { users: Record<string, string>[] };
  const users = source.users;
  const body = (u: Record<string, string>) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
    externalId: u.id,
    userName: u.userName,
    name: { givenName: u.givenName, familyName: u.familyName, formatted: `${u.givenName} ${u.familyName}` },
    displayName: `${u.givenName} ${u.familyName}`,
    emails: [{ type: 'work', primary: true, value: u.email }],
    ...(u.phone ? { phoneNumbers: [{ type: 'work', primary: true, value: u.phone }] } : {}),
    title: u.title,
    active: true,
  });
  const index = new Map(users.map((u, i) => [u.id!, i]));
  const managerOf = users.map((u) => (u.managerId ? index.get(u.managerId) : undefined));
  const ids: string[] = new Array(users.length);
  await send('GET', '/Users?startIndex=1&count=100');
  const create = async (i: number) => {
    const m = managerOf[i];
    const b = m === undefined ? body(users[i]!) : { ...body(users[i]!), [ENTERPRISE]: { manager: { value: ids[m] } } };
    ids[i] = (JSON.parse(await send('POST', '/Users', JSON.stringify(b))) as { id: string }).id;
  };
  const all = users.map((_, i) => i);
  await pool(all.filter((i) => managerOf[i] === undefined), concurrency, create);
  await pool(all.filter((i) => managerOf[i] !== undefined), concurrency, create);
}

await main();
// Keep-alive sockets would hold the process open: it is done.
process.exit(0);
