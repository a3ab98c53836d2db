import type { Actor } from '../engine/index.js';
import type { Session } from './auth.js';

/** What the console's middleware puts on each request for the routes. */
export interface ConsoleVariables {
  /** Who is asking; undefined on the public routes (login, assets) before login. */
  actor: Actor | undefined;
  /** The login session of a browser (none for an API token). */
  session: Session | undefined;
}

export interface ConsoleEnv {
  Variables: ConsoleVariables;
}
