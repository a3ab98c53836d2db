import { describe, expect, it } from 'vitest';
import type { DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, type Workspace } from '../support/harness.js';
import { useSchemaProxy, type SchemaProxyOptions } from '../support/schema-proxy.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'unwritable-token';

let target: DevTarget;
let ws: Workspace;

useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

const startProxy = useSchemaProxy();

/** The devtarget behind a proxy whose /Schemas says other things of some attributes than the target does. */
async function behindProxy(schema: SchemaProxyOptions['schema']): Promise<void> {
  await startProxy(ws, { upstream: target.url, schema });
}

const userOf = (sourceId: string) => [...target.users.values()].find((u) => u.externalId === sourceId);

interface Event {
  type: string;
  result: string;
  sourceId: string | null;
  summary: string;
}

async function eventsOf(user: string): Promise<Event[]> {
  return (await ws.run(['events', '--user', user, '--json'])).out.map((l) => JSON.parse(l) as Event);
}

describe('a userName the target says is immutable', () => {
  it('a rename is not sent, and the event, the plan and reconcile say it cannot be written', async () => {
    await behindProxy({ userName: { mutability: 'immutable', required: true } });
    const d = makeDirectory(3);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    d.users[1]!.userName = 'renamed@example.com';
    ws.writeDirectory(d);

    const plan = await ws.run(['plan']);
    expect(plan.code).toBe(0);
    const planText = plan.out.join('\n');
    expect(planText).toContain('0 operations');
    expect(planText).toMatch(/1 value the source wants cannot be written:/);
    expect(planText).toMatch(/u00001 +userName +update +"renamed@example.com" +cannot be written: the target's schema marks userName immutable/);
    const planJson = (await ws.run(['plan', '--json'])).out.map((l) => JSON.parse(l) as { unwritable?: Record<string, unknown> });
    expect(planJson.map((l) => l.unwritable)).toContainEqual({
      sourceId: 'u00001',
      path: 'userName',
      on: 'update',
      mutability: 'immutable',
      wanted: 'renamed@example.com',
      reason: "cannot be written: the target's schema marks userName immutable",
    });

    target.requests.length = 0;
    const sync = await ws.run(['sync']);
    expect(sync.code).toBe(0);
    expect(target.writes()).toEqual([]);
    expect(userOf('u00001')!.userName).toBe('user1@example.com');
    expect((await eventsOf('u00001')).at(-1)).toMatchObject({
      type: 'user_update_provision',
      result: 'skipped',
      summary: `u00001: userName not changed to "renamed@example.com": cannot be written: the target's schema marks userName immutable`,
    });

    const reconcile = await ws.run(['reconcile', '--json']);
    expect(reconcile.code).toBe(0);
    const report = JSON.parse(reconcile.out[0]!) as { drift: unknown[]; unwritable: unknown[] };
    expect(report.drift).toEqual([]);
    expect(report.unwritable).toEqual([
      {
        sourceId: 'u00001',
        targetId: userOf('u00001')!.id,
        userName: 'user1@example.com',
        path: 'userName',
        wanted: 'renamed@example.com',
        actual: 'user1@example.com',
        reason: "cannot be written: the target's schema marks userName immutable",
      },
    ]);
    const text = (await ws.run(['reconcile'])).out.join('\n');
    expect(text).toMatch(/cannot be written: 1 value the source wants that the target's schema does not let scimsync write/);
    expect(text).toMatch(/u00001 +user1@example.com +userName +renamed@example.com +user1@example.com +cannot be written: the target's schema marks userName immutable/);
  });
});

describe('a userName the target says is readOnly', () => {
  it("fails each create with a message that blames the target's schema, not the source, and sends nothing", async () => {
    await behindProxy({ userName: { mutability: 'readOnly', required: true } });
    ws.writeDirectory(makeDirectory(2));
    const sync = await ws.run(['sync']);
    expect(sync.code).toBe(1);
    expect(target.writes()).toEqual([]);
    const events = await eventsOf('u00000');
    const failure = events.find((e) => e.result === 'failure');
    expect(failure).toMatchObject({
      type: 'user_create_provision',
      summary: expect.stringMatching(/^user0@example.com \(u00000\) not created: cannot be written: the target's schema marks userName readOnly \(GET \/Schemas\), and accounts are created and matched by it \(matching: userName\); the source's value is fine: check the target's schema$/),
    });
    expect(failure!.summary).not.toMatch(/has none of the matching attributes/);
    expect(events).toContainEqual(expect.objectContaining({ type: 'user_create_provision', result: 'skipped', summary: expect.stringContaining("userName not sent: cannot be written: the target's schema marks userName readOnly") }));
  });
});
