import { generic } from './generic.js';
import { gong } from './gong.js';
import type { TargetProfile } from './profile.js';
import { strongdm } from './strongdm.js';

/** Every known target profile, one line each; the first is the default. */
const REGISTERED = [generic, gong, strongdm] as const;

/** Every known target profile, by the name `target.profile` uses. */
export const PROFILES: Readonly<Record<string, TargetProfile>> = Object.fromEntries(REGISTERED.map((p) => [p.name, p]));

/** The names `target.profile` takes, for the config's schema. */
export const PROFILE_NAMES = REGISTERED.map((p) => p.name) as [string, ...string[]];
