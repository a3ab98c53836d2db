/**
 * The error family of scimsync. Every error a user can cause or meet carries a
 * code, a one-line message prefixed with where it comes from, and the exit code
 * the CLI uses for it (DESIGN.md, "CLI").
 */
export type ExitCode = 0 | 1 | 2 | 3 | 4;

export abstract class ScimsyncError extends Error {
  abstract readonly code: string;
  abstract readonly exitCode: ExitCode;
}

/** Bad configuration or arguments: exit 2. */
export class ConfigError extends ScimsyncError {
  readonly code = 'CONFIG';
  readonly exitCode = 2 as const;
  constructor(message: string) {
    super(`[scimsync] config: ${message}`);
    this.name = 'ConfigError';
  }
}

/** An unreadable or malformed source: exit 2, never a deprovision. */
/** A command asked for something the state does not allow (nothing held to approve, no such object): exit 2. */
export class UsageError extends ScimsyncError {
  readonly code = 'USAGE';
  readonly exitCode = 2 as const;
  constructor(message: string) {
    super(`[scimsync] ${message}`);
    this.name = 'UsageError';
  }
}

export class SourceError extends ScimsyncError {
  readonly code = 'SOURCE';
  readonly exitCode = 2 as const;
  constructor(
    integration: string,
    /** What went wrong, without where (the file or server and its problem). */
    readonly reason: string,
  ) {
    super(`[scimsync] [integration ${integration}] source: ${reason}`);
    this.name = 'SourceError';
  }
}

/** A package that only some configs need (ldapts, nodemailer) is not installed, and this config needs it: exit 2. */
export class MissingPackageError extends ScimsyncError {
  readonly code = 'PACKAGE';
  readonly exitCode = 2 as const;
  constructor(
    /** Who needs it, as the message starts: `[integration hr] the LDAP source`. */
    who: string,
    readonly packageName: string,
  ) {
    super(`[scimsync] ${who} needs the ${packageName} package: npm install ${packageName}`);
    this.name = 'MissingPackageError';
  }
}

/** Loads an optional package with `load` (an `import()`); a package that is not installed is a MissingPackageError naming `who`. */
export async function importOptional<T>(packageName: string, who: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const notFound = e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND';
    // Node names the package it could not find: `Cannot find package 'ldapts' imported from …` (not a dependency of it).
    const named = typeof e.message === 'string' && (e.message.includes(`'${packageName}'`) || e.message.includes(`'${packageName}/`));
    if (notFound && named) throw new MissingPackageError(who, packageName);
    throw err;
  }
}

/** A safety rule stopped the cycle before any request: exit 3. */
export class SafetyAbortError extends ScimsyncError {
  readonly code = 'SAFETY';
  readonly exitCode = 3 as const;
  constructor(integration: string, message: string) {
    super(`[scimsync] [integration ${integration}] ${message}`);
    this.name = 'SafetyAbortError';
  }
}

/** The state could not be written (disk full, database locked): exit 1; the next cycle checks what was in flight. */
export class StateError extends ScimsyncError {
  readonly code = 'STATE';
  readonly exitCode = 1 as const;
  constructor(message: string) {
    super(`[scimsync] state: ${message}`);
    this.name = 'StateError';
  }
}

/**
 * The state file cannot be used as it is (corrupt, truncated, unreadable, not writable,
 * or its folder cannot be created): exit 2, with what to do, and nothing is written.
 */
export class StateFileError extends ScimsyncError {
  readonly code = 'STATE_FILE';
  readonly exitCode = 2 as const;
  constructor(path: string, message: string) {
    super(`[scimsync] state: ${path}: ${message}`);
    this.name = 'StateFileError';
  }
}

/** An admin action with nothing to act on (approve with no held plan, lift with no quarantine): exit 2. */
export class AdminActionRefusedError extends ScimsyncError {
  readonly code = 'ACTION_REFUSED';
  readonly exitCode = 2 as const;
  constructor(
    action: string,
    integration: string,
    /** Why, without where: what the console shows its user. */
    readonly reason: string,
  ) {
    super(`[scimsync] ${action} ${integration}: ${reason}`);
    this.name = 'AdminActionRefusedError';
  }
}

/** Another scimsync process holds the integration's lease (sync, daemon, reconcile --apply): exit 4. */
export class LeaseHeldError extends ScimsyncError {
  readonly code = 'LEASE_HELD';
  readonly exitCode = 4 as const;
  constructor(integration: string, message: string) {
    super(`[scimsync] [integration ${integration}] ${message}`);
    this.name = 'LeaseHeldError';
  }
}

/** The target cannot be used at all this cycle (unreachable, 401/403): exit 1. */
export class TargetUnavailableError extends ScimsyncError {
  readonly code = 'TARGET';
  readonly exitCode = 1 as const;
  constructor(integration: string, message: string) {
    super(`[scimsync] [integration ${integration}] target: ${message}`);
    this.name = 'TargetUnavailableError';
  }
}

/** A read of the whole target that could not be completed (a target that pages forever, say): exit 1, nothing compared. */
export class TargetReadError extends ScimsyncError {
  readonly code = 'TARGET_READ';
  readonly exitCode = 1 as const;
  constructor(target: string, message: string) {
    super(`[scimsync] target ${target}: ${message}`);
    this.name = 'TargetReadError';
  }
}

/** How the engine should act on a failed SCIM request. */
export type ScimErrorKind =
  | 'transient' // 5xx, 408, network, timeout: retry with backoff
  | 'rate-limited' // 429: pause the target for Retry-After
  | 'conflict' // 409: look up and adopt
  | 'not-found' // 404 on a stored id: unlink and re-match
  | 'bad-request' // other 4xx: skip this object, report scimType/detail
  | 'fatal'; // 401/403: stop the cycle

export interface ScimErrorInit {
  kind: ScimErrorKind;
  status?: number;
  scimType?: string;
  detail?: string;
  retryAfterMs?: number;
  requestId?: string;
  method: string;
  path: string;
  /** What the failure came from (a network error, an abort), kept for debugging. */
  cause?: unknown;
}

/**
 * A failed SCIM request, classified once in the client. Its message names the request
 * and the answer (`POST /Users: HTTP 409 (uniqueness: …)`): it is quoted in an
 * operation's event, and printed on its own line if it ever ends a command (exit 1).
 */
export class ScimHttpError extends ScimsyncError {
  readonly code = 'SCIM_HTTP';
  readonly exitCode = 1 as const;
  readonly kind: ScimErrorKind;
  readonly status: number | undefined;
  readonly scimType: string | undefined;
  readonly detail: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly requestId: string | undefined;
  readonly method: string;
  readonly path: string;

  constructor(init: ScimErrorInit) {
    const what = init.status === undefined ? 'network error' : `HTTP ${init.status}`;
    const extra = [init.scimType, init.detail].filter(Boolean).join(': ');
    super(`${init.method} ${init.path}: ${what}${extra ? ` (${extra})` : ''}`, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'ScimHttpError';
    this.kind = init.kind;
    this.status = init.status;
    this.scimType = init.scimType;
    this.detail = init.detail;
    this.retryAfterMs = init.retryAfterMs;
    this.requestId = init.requestId;
    this.method = init.method;
    this.path = init.path;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
