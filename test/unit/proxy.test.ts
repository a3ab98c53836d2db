import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ScimClient } from '../../src/scim/client.js';
import { proxyNamed } from '../../src/scim/http.js';
import { targetLimiter } from '../../src/delivery/rate.js';

/**
 * An admin behind a corporate proxy sets HTTPS_PROXY / HTTP_PROXY: scimsync's
 * requests must go through it, as every other tool's do.
 */

const saved = { ...process.env };
const servers: http.Server[] = [];

afterEach(async () => {
  for (const k of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A forward proxy that answers every request itself, and remembers the absolute URLs it was asked for. */
async function proxy(): Promise<{ url: string; asked: string[] }> {
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    asked.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'application/scim+json' });
    res.end(JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0, Resources: [] }));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked };
}

function client(baseUrl: string): ScimClient {
  return new ScimClient({
    baseUrl,
    auth: { type: 'bearer', token: 'tok' },
    timeoutMs: 5_000,
    limiter: targetLimiter({ requestsPerSecond: 1000, maxConcurrent: 2 }),
    retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
  });
}

describe('a proxy named in the environment', () => {
  it('carries every request to the target', async () => {
    const p = await proxy();
    process.env.HTTP_PROXY = p.url;
    // The target's host does not resolve: only the proxy can answer.
    const found = await client('http://scim.target.invalid/scim/v2').find('Users', 'userName', 'ada');
    expect(found.resources).toEqual([]);
    expect(p.asked).toEqual([expect.stringMatching(/^http:\/\/scim\.target\.invalid\/scim\/v2\/Users\?filter=/)]);
  });

  it('is bypassed for the hosts NO_PROXY names', async () => {
    const p = await proxy();
    process.env.HTTP_PROXY = p.url;
    process.env.NO_PROXY = 'scim.target.invalid';
    await expect(client('http://scim.target.invalid/scim/v2').find('Users', 'userName', 'ada')).rejects.toThrow();
    expect(p.asked).toEqual([]);
  });

  it('is read from any of the four usual variables, and an empty one names none', () => {
    expect(proxyNamed({})).toBe(false);
    expect(proxyNamed({ HTTPS_PROXY: '' })).toBe(false);
    for (const name of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy']) expect(proxyNamed({ [name]: 'http://proxy:3128' })).toBe(true);
  });
});
