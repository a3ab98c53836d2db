/**
 * `npm run chaos -- --seed N --cycles K --users U`: one seeded campaign against the
 * chaos target and source, through the built CLI. Without --seed: random seeds,
 * one campaign after another, until --minutes (default 30) have passed.
 * Exit 1 when an invariant broke; the seed and the cycle are printed to replay it.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CHAOS_FAULTS, type ChaosFaultKind } from '../support/devtarget/chaos.js';
import { runCampaign, type CampaignResult } from './campaign.js';
import { SOURCE_EVENTS, type SourceEventKind } from './source.js';

function list<T extends string>(text: string | undefined, known: readonly T[], flag: string): T[] | undefined {
  if (text === undefined) return undefined;
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = items.filter((i) => !known.includes(i as T));
  if (unknown.length > 0) throw new Error(`${flag}: unknown ${unknown.join(', ')} (have: ${known.join(', ')})`);
  return items as T[];
}

function whole(text: string | undefined, fallback: number, flag: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: expected a whole number, got ${text}`);
  return n;
}

/** Violations printed for a finding; a broken group of 500 says the same thing 500 times. */
const SHOWN = 8;

function report(r: CampaignResult, replayFlags: string): void {
  const f = r.findings[0];
  const what = `seed ${r.seed} (bulk ${r.bulk ? 'on' : 'off'}, etags ${r.etags ? 'on' : 'off'})`;
  if (!f) {
    console.log(`PASS ${what}: ${r.cycles} cycles in ${(r.durationMs / 1000).toFixed(0)}s`);
    return;
  }
  console.log(`FAIL ${what}: ${f.violations[0]!.invariant} broken at cycle ${f.cycle}${f.phase === 'clean' ? ' (clean cycle)' : ''}, after ${(r.durationMs / 1000).toFixed(0)}s`);
  for (const v of f.violations.slice(0, SHOWN)) console.log(`  ${v.invariant}: ${v.message}`);
  if (f.violations.length > SHOWN) console.log(`  … and ${f.violations.length - SHOWN} more`);
  console.log(`  faults [${f.faults.join(', ')}] events [${f.events.map((e) => e.note).join('; ')}]`);
  if (f.run.stderr.trim()) console.log(`  stderr: ${f.run.stderr.trim().split('\n').slice(-5).join('\n          ')}`);
  console.log(`  replay: npm run chaos -- --seed ${r.seed} --cycles ${f.cycle}${replayFlags}`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      cycles: { type: 'string' },
      users: { type: 'string' },
      minutes: { type: 'string' },
      cli: { type: 'string' },
      faults: { type: 'string' },
      events: { type: 'string' },
      'clean-every': { type: 'string' },
      'no-kills': { type: 'boolean' },
      'fan-groups': { type: 'string' },
      quiet: { type: 'boolean' },
    },
  });
  const cli = resolve(values.cli ?? 'dist/src/cli/main.js');
  if (!existsSync(cli)) throw new Error(`--cli: ${cli} does not exist (npm run build first)`);
  const base = {
    cycles: whole(values.cycles, 200, '--cycles'),
    users: whole(values.users, 20, '--users'),
    cli,
    cleanEvery: whole(values['clean-every'], 3, '--clean-every'),
    kills: !values['no-kills'],
    fanGroups: whole(values['fan-groups'], 500, '--fan-groups'),
    ...(values.faults !== undefined ? { faults: list<ChaosFaultKind>(values.faults, CHAOS_FAULTS.map((f) => f.kind), '--faults')! } : {}),
    ...(values.events !== undefined ? { events: list<SourceEventKind>(values.events, SOURCE_EVENTS.map((e) => e.kind), '--events')! } : {}),
    log: values.quiet ? () => {} : (line: string) => console.log(line),
  };
  // What changes the draws, for the replay line.
  const replayFlags = [
    values.users !== undefined ? ` --users ${values.users}` : '',
    values.faults !== undefined ? ` --faults ${values.faults}` : '',
    values.events !== undefined ? ` --events ${values.events}` : '',
    values['clean-every'] !== undefined ? ` --clean-every ${values['clean-every']}` : '',
    values['no-kills'] ? ' --no-kills' : '',
    values['fan-groups'] !== undefined ? ` --fan-groups ${values['fan-groups']}` : '',
  ].join('');
  if (values.seed !== undefined) {
    const result = await runCampaign({ ...base, seed: whole(values.seed, 0, '--seed') });
    report(result, replayFlags);
    return result.findings.length > 0 ? 1 : 0;
  }
  const until = Date.now() + whole(values.minutes, 30, '--minutes') * 60_000;
  let failed = 0;
  let campaigns = 0;
  while (Date.now() < until) {
    const seed = Math.floor(Math.random() * 2 ** 31);
    console.log(`campaign ${++campaigns}: seed ${seed}`);
    const result = await runCampaign({ ...base, seed });
    report(result, replayFlags);
    if (result.findings.length > 0) failed++;
  }
  console.log(`${campaigns - failed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[chaos] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
