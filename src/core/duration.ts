/** The units of a duration as the config, the CLI and the console write it (`500ms`, `30s`, `5m`, `1h`, `7d`): every duration is read here. */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** One day in milliseconds, the unit of the longest bounds. */
export const DAY_MS = UNIT_MS.d;

/** `1h`, `30m`, `2d`, `45s`, `500ms` → milliseconds; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}
