/**
 * Keeps secrets out of what scimsync prints, logs and stores: credentials in a
 * URL's userinfo, and known secret values (tokens, passwords) anywhere in a text.
 */

const REDACTED = '***';

/** `scheme://` then an authority (up to the first `/`, `?`, `#` or `\`) that holds an `@`; greedy, so the last `@` ends the userinfo. */
const USERINFO = /^(\s*[A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#\\]*@/;

/**
 * `https://user:pw@host/scim` → `https://***@host/scim`; a URL without userinfo is
 * returned as it is. A text that does not parse as a URL but has an `@` after its
 * `scheme://` is redacted up to its last `@`, since the parser cannot tell where a
 * malformed password ends.
 */
export function redactUrl(url: string): string {
  if (USERINFO.test(url)) return url.replace(USERINFO, `$1${REDACTED}@`);
  const scheme = /^\s*[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url);
  if (!scheme || !url.includes('@', scheme[0].length) || URL.canParse(url)) return url;
  return `${scheme[0]}${REDACTED}${url.slice(url.lastIndexOf('@'))}`;
}

/**
 * Replaces every occurrence of each secret in `text` by `***`, longest secret
 * first (so a secret that contains another is hidden whole). Empty secrets are
 * ignored.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  const ordered = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  let out = text;
  for (const secret of ordered) out = out.split(secret).join(REDACTED);
  return out;
}

// C0 controls, DEL, C1 controls and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text for a human reader, on one line: control characters and line separators
 * become `\n`, `\r`, `\t` or `\u001b`, so a value read from a source or a
 * target cannot start a line of its own that passes for a log line or a row.
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
