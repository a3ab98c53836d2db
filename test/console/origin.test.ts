import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleCommand } from '../../src/console/command.js';
import { hashPassword, hashToken } from '../../src/console/passwords.js';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, workspace, type Directory, type Workspace } from '../support/harness.js';
import { fieldValue } from './support/client.js';

/**
 * `scimsync console` with logins, in front of a real SCIM target that counts
 * writes: a state-changing request is refused unless it comes from the
 * console's own pages, whatever its content type, and scripts with an API token
 * (which send no Origin) still act.
 */
const TARGET_TOKEN = 'origin-test-target-token-3b8e1f';
const ADA_PASSWORD = 'ada-origin-test-password';
const CI_TOKEN = 'scimsync_origin-test-ci-token-000000001';
const EVIL = 'http://evil.example';

let target: DevTarget;
let ws: Workspace;
let directory: Directory;
let url: string;
let stop: AbortController;
let served: Promise<void>;
/** Ada's browser: her session cookie and the CSRF token her pages carry. */
let cookie: string;
let csrf: string;

/** The `name=value` pairs of an answer's Set-Cookie headers. */
const cookiesOf = (res: Response) => res.headers.getSetCookie().map((line) => line.split(';')[0]!);

beforeAll(async () => {
  target = await startDevTarget({ token: TARGET_TOKEN, strict: true });
  ws = workspace(target.url, TARGET_TOKEN);
  ws.writeConfig();
  directory = makeDirectory(5);
  ws.writeDirectory(directory);
  expect((await ws.run(['sync'])).code).toBe(0);
  // Three people the source has and the target not yet: each provisioned only by a console action.
  for (const n of [5, 6, 7]) directory.users.push(makeDirectory(8).users[n]!);
  ws.writeDirectory(directory);

  const http = [
    'http:',
    '  listen: "127.0.0.1:0"',
    '  auth:',
    `    users: [{ name: ada, passwordHash: "${await hashPassword(ADA_PASSWORD)}", role: admin }]`,
    `    apiTokens: [{ name: ci, hash: "${hashToken(CI_TOKEN)}", role: admin }]`,
    '',
  ].join('\n');
  writeFileSync(ws.configPath, http + readFileSync(ws.configPath, 'utf8'));
  stop = new AbortController();
  let printed: (line: string) => void = () => undefined;
  const line = new Promise<string>((resolve) => (printed = resolve));
  served = consoleCommand({ config: ws.configPath, env: { TEST_TOKEN: TARGET_TOKEN }, out: (l) => printed(l), signal: stop.signal });
  url = /on (http:\/\/\S+?)\/? /.exec(await line)![1]!;

  // Ada logs in through the form, as her browser does.
  const form = await fetch(`${url}/login`);
  const loginCookie = cookiesOf(form);
  const login = await fetch(`${url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { origin: url, cookie: loginCookie.join('; '), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: fieldValue(await form.text(), '_csrf'), next: '/', name: 'ada', password: ADA_PASSWORD }).toString(),
  });
  expect(login.status).toBe(303);
  cookie = cookiesOf(login).find((c) => c.startsWith('scimsync_session='))!;
  csrf = fieldValue(await (await fetch(`${url}/integrations/app`, { headers: { cookie } })).text(), '_csrf');
}, 60_000);

afterAll(async () => {
  stop?.abort();
  await served;
  await target?.stop();
});

const inTarget = (id: string) => [...target.users.values()].some((u) => u.externalId === id);

/** Provision now of one user through the JSON API, with Ada's cookie and CSRF token and the headers given. */
const provision = (id: string, headers: Record<string, string>) =>
  fetch(`${url}/api/integrations/app/users/${id}/provision`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json', ...headers }, body: '{}' });

describe("the console's Origin check", () => {
  it("refuses a JSON POST with the admin's cookie and CSRF token from another site (403), and the target gets no write", async () => {
    const writes = target.writes().length;
    const res = await provision('u00005', { origin: EVIL });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: `requests from ${EVIL} are not accepted` });
    // A browser that sends no Origin says where the request came from in Sec-Fetch-Site.
    expect((await provision('u00005', { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    // A cookie is a browser's credential: a request that carries it must say where it comes from.
    expect((await provision('u00005', {})).status).toBe(403);
    // A form of another site, with the token, on the page route.
    const page = await fetch(`${url}/users/app/u00005/provision`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, origin: EVIL, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect(page.status).toBe(403);
    expect(target.writes().length - writes).toBe(0);
    expect(inTarget('u00005')).toBe(false);
  });

  it("accepts the same request from the console's own page (Origin, or Sec-Fetch-Site: same-origin)", async () => {
    const writes = target.writes().length;
    const res = await provision('u00005', { origin: url });
    expect(res.status).toBe(200);
    expect(inTarget('u00005')).toBe(true);
    expect((await provision('u00006', { 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect(inTarget('u00006')).toBe(true);
    expect(target.writes().length - writes).toBeGreaterThan(0);
  });

  it('lets a script with an API token act without an Origin, as curl sends it', async () => {
    const res = await fetch(`${url}/api/integrations/app/users/u00007/provision`, { method: 'POST', headers: { authorization: `Bearer ${CI_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(inTarget('u00007')).toBe(true);
  });
});
