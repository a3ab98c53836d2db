import cronParser from 'cron-parser';
import type { IntegrationConfig } from '../config/schema.js';
import { parseDuration } from '../core/duration.js';

/** An `every:` that does not parse (the config refuses one): the default interval. */
const DEFAULT_EVERY_MS = 40 * 60_000;

/** When the next cycle is due (ms since the epoch) after one that started at `from`. */
export function nextRun(schedule: IntegrationConfig['schedule'], from: Date): number {
  if ('every' in schedule) return from.getTime() + (parseDuration(schedule.every) ?? DEFAULT_EVERY_MS);
  return cronParser.parseExpression(schedule.cron, { currentDate: from }).next().getTime();
}
