import { describe, expect, it } from 'vitest';
import { createConsoleApp } from '../../src/console/app.js';
import { httpConfigSchema } from '../../src/config/http.js';
import type { Actor } from '../../src/engine/console-api.js';
import type { DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, type Workspace } from '../support/harness.js';
import { engineBackend, useWorkspaceState } from '../support/state.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'console-reconcile-members-token';
const ADA: Actor = { name: 'ada', role: 'admin', via: 'session' };

let target: DevTarget;
let ws: Workspace;
useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

const openState = useWorkspaceState(TOKEN);

const groupNamed = (name: string) => [...target.groups.values()].find((g) => g.displayName === name)!;
const memberValues = (name: string) => ((groupNamed(name).members ?? []) as { value: string }[]).map((m) => m.value);

describe("the console's reconcile page", () => {
  it('shows dangling values and foreign accounts in managed groups; Apply takes the dangling ones out and keeps the account', async () => {
    const d = makeDirectory(3);
    d.groups = [{ id: 'g1', displayName: 'Sales', members: ['u00001', 'u00002'] }];
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const hand = target.seedUser({ userName: 'hand@example.com', name: { givenName: 'Hand', familyName: 'Made' }, emails: [{ type: 'work', value: 'hand@example.com' }] });
    const sales = groupNamed('Sales');
    sales.members = [...(sales.members as { value: string }[]), { value: 'bulkId:b10' }, { value: 'bulkId:b11' }, { value: hand.id }];

    const backend = engineBackend(openState(ws));
    const app = createConsoleApp({ backend, http: httpConfigSchema.parse({}), secrets: () => [] });

    const page = await (await app.request('http://127.0.0.1/integrations/app/reconcile?run=1')).text();
    expect(page).toContain('Members not managed by scimsync (2 dangling, 1 foreign)');
    const table = /<table class="grid" id="stray-members">([\s\S]*?)<\/table>/.exec(page)![1]!;
    const rows = [...table.matchAll(/<tr data-kind="(\w+)">([\s\S]*?)<\/tr>/g)].map((m) => [...m[2]!.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((c) => c[1]));
    expect(rows).toEqual([
      ['Sales', 'bulkId:b10', 'dangling', '—', 'removed'],
      ['Sales', 'bulkId:b11', 'dangling', '—', 'removed'],
      ['Sales', hand.id, 'foreign', 'hand@example.com', 'kept (groups.foreignMembers)'],
    ]);

    const outcome = await backend.reconcile({ integration: 'app', mode: 'apply', actor: ADA });
    expect(outcome.cycle?.outcome).toBe('success');
    expect(memberValues('Sales')).not.toContain('bulkId:b10');
    expect(memberValues('Sales')).not.toContain('bulkId:b11');
    expect(memberValues('Sales')).toContain(hand.id);
    const after = await backend.reconcileReport('app');
    expect(after.strayMembers).toEqual([{ displayName: 'Sales', value: hand.id, kind: 'foreign', name: 'hand@example.com', onApply: 'keep', keptBecause: 'policy' }]);
  });
});
