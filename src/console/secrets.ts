/** Keys whose values are credentials, wherever they sit in the config (target and source auth, LDAP bind, forwarders). */
const SECRET_KEYS = new Set(['token', 'password', 'clientSecret', 'bindPassword', 'secret', 'hmacSecret', 'webhook', 'passwordHash', 'hash']);

/**
 * Every credential value in a loaded config, found by key anywhere in it, so
 * that one added later (a forwarder's token) is covered without a change here.
 * The console hides these if they ever slip into a page or an API answer.
 */
export function configSecrets(config: unknown): string[] {
  const out = new Set<string>();
  const walk = (value: unknown, key: string | undefined) => {
    if (typeof value === 'string') {
      if (key !== undefined && SECRET_KEYS.has(key) && value.length > 0) out.add(value);
      return;
    }
    if (Array.isArray(value)) for (const v of value) walk(v, key);
    else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, k);
  };
  walk(config, undefined);
  return [...out];
}
