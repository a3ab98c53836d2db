/**
 * One planning measurement in a fresh process (so peak RSS is this run's):
 *   node plan-worker.js prepare <config> <integration>   seeds state as if the directory had been pushed
 *   node plan-worker.js measure <config> <integration>   a dry-run cycle (`scimsync plan`): source read + scope/map + state read + plan, no HTTP
 * Prints one JSON line.
 */
import { createSource } from '../connectors/index.js';
import { resolveProfile } from '../connectors/profiles/index.js';
import { loadConfig } from '../src/config/load.js';
import { mapUsers } from '../src/core/desired.js';
import { previewCycle } from '../src/engine/cycle.js';
import { createLogger } from '../src/log.js';
import { scopeSnapshot } from '../src/core/scope.js';
import { userBody } from '../src/scim/bodies.js';
import { openStateStore } from '../state/index.js';

const [mode, configPath, name] = process.argv.slice(2) as [string, string, string];
const { config } = loadConfig(configPath);
const integration = config.integrations.find((i) => i.name === name)!;
const store = openStateStore(config.state.path);

async function desiredAndGroups() {
  const { snapshot } = await createSource(integration).snapshot();
  const scoped = scopeSnapshot(snapshot.users, snapshot.groups, { nested: integration.groups.nested });
  const profile = resolveProfile(integration);
  const mapped = await mapUsers(scoped.users, profile.mapper, new Set(scoped.users.map((u) => u.id)));
  return { scoped, profile, mapped };
}

if (mode === 'prepare') {
  const { scoped, mapped } = await desiredAndGroups();
  const targetOf = (id: string) => `t-${id}`;
  store.transaction(() => {
    for (const d of mapped.desired) {
      const { sent } = userBody(d.attrs, { active: true, resolve: targetOf });
      store.saveUser(name, { sourceId: d.sourceId, targetId: targetOf(d.sourceId), status: 'active', attrs: sent });
    }
    for (const g of scoped.groups) {
      store.saveGroup(name, { sourceId: g.sourceId, targetId: `tg-${g.sourceId}`, status: 'active', displayName: g.displayName }, { members: g.members });
    }
  });
  store.setLastSourceUsers(name, mapped.desired.length);
  console.log(JSON.stringify({ prepared: mapped.desired.length }));
} else {
  // Exactly what `scimsync plan` does: the cycle prepared, and nothing sent.
  const logger = createLogger({ level: 'error', format: 'json', silent: true });
  const started = process.hrtime.bigint();
  const report = await previewCycle({ integration, store, logger });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(JSON.stringify({ ms, operations: report.operations.length, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
}
store.close();
