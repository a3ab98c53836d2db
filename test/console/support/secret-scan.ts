/**
 * Scans what the console answered for secrets: every configured credential,
 * the console's own passwords and tokens, and their hashes. Each body is
 * checked whole (an HTML source, a JSON answer), with the place it came from.
 */
export class SecretScanner {
  readonly scanned: string[] = [];
  readonly leaks: { where: string; secret: string }[] = [];
  private readonly secrets: string[];

  constructor(secrets: readonly string[]) {
    this.secrets = secrets.filter((s) => s.length > 0);
    if (this.secrets.length === 0) throw new Error('SecretScanner: no secret to look for');
  }

  scan(where: string, body: string): void {
    this.scanned.push(where);
    for (const secret of this.secrets) {
      // A secret is shown whole or as the start of a text a page may cut: both count.
      if (body.includes(secret) || body.includes(encodeURIComponent(secret)) || body.includes(JSON.stringify(secret).slice(1, -1))) {
        this.leaks.push({ where, secret: `${secret.slice(0, 3)}…` });
      }
    }
  }

  /** Reads a response's body (a copy), scans it, and returns the text. */
  async response(where: string, res: Response): Promise<string> {
    const text = await res.clone().text();
    this.scan(where, text);
    return text;
  }
}
