import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { workspace } from '../support/harness.js';

const TOKEN = 'test-connection-case-token';

let keeps: DevTarget;
let ignores: DevTarget;

beforeAll(async () => {
  [keeps, ignores] = await Promise.all([startDevTarget({ token: TOKEN }), startDevTarget({ token: TOKEN, filters: 'caseless' })]);
});
afterAll(async () => {
  await Promise.all([keeps.stop(), ignores.stop()]);
});

async function testConnection(target: DevTarget): Promise<{ code: number; text: string }> {
  const ws = workspace(target.url, TOKEN);
  ws.writeConfig();
  ws.writeDirectory({ users: [] });
  const r = await ws.run(['test-connection']);
  return { code: r.code, text: r.out.join('\n') };
}

const seeded = (t: DevTarget) => t.seedUser({ userName: 'Ada.Lovelace@example.com', name: { givenName: 'Ada', familyName: 'Lovelace' } });

describe('test-connection: whether the userName filter honours caseExact: false', () => {
  it('says so when a lookup of an existing account in another case finds it', async () => {
    seeded(ignores);
    const { code, text } = await testConnection(ignores);
    expect(code).toBe(0);
    expect(text).toContain('lookup by userName in another case: aDA.lOVELACE@EXAMPLE.COM finds Ada.Lovelace@example.com (the filter ignores case, as caseExact: false asks)');
    expect(text).not.toMatch(/warning: the filter keeps case/);
    expect(ignores.requests.some((r) => r.path.includes(encodeURIComponent('userName eq "aDA.lOVELACE@EXAMPLE.COM"')))).toBe(true);
  });

  it('warns, without failing, when the filter keeps case: the first run will read more to find such accounts', async () => {
    seeded(keeps);
    const { code, text } = await testConnection(keeps);
    expect(code).toBe(0);
    expect(text).toMatch(
      /warning: the filter keeps case: userName eq "aDA\.lOVELACE@EXAMPLE\.COM" does not find Ada\.Lovelace@example\.com, though userName is caseExact: false; .*found only after its create answers 409.*the first run reads more/,
    );
    expect(text).toMatch(/OK$/);
  });

  it('does not try on a target without accounts', async () => {
    keeps.users.clear();
    const { code, text } = await testConnection(keeps);
    expect(code).toBe(0);
    expect(text).toContain('lookup by userName in another case: not tried (the target holds no account)');
  });
});
