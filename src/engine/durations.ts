/** Durations and points in time as an admin writes them in a command's options (`--wait 5m`, `--since 2h`). */
import { parseDuration } from '../core/duration.js';
import { UsageError } from '../errors.js';

export { parseDuration } from '../core/duration.js';

/** `--wait 5m` in milliseconds (0 without it): how long a run waits for the lease of another scimsync process. */
export function parseWait(text: string | undefined): number {
  if (text === undefined) return 0;
  const ms = parseDuration(text);
  if (ms === undefined) throw new UsageError(`--wait ${text}: expected a duration such as 30s, 5m or 1h`);
  return ms;
}

/** `--since 2h` (that long before `now`, ms) or an ISO date, as an ISO time; `flag` names the option in the error. */
export function parseTimeOption(flag: string, text: string, now: number): string {
  const ms = parseDuration(text);
  if (ms !== undefined) return new Date(now - ms).toISOString();
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new UsageError(`${flag} ${text}: expected a duration (30m, 2h, 7d) or an ISO date`);
  return new Date(t).toISOString();
}
