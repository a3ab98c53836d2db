import { z } from 'zod';
import { fileSourcePlugin } from './file.js';
import { ldapSourcePlugin } from './ldap.js';
import { scimSourcePlugin } from './scim.js';

/** Every source connector, one line each: `source.type` takes the names their schemas declare. */
export const SOURCES = [fileSourcePlugin, ldapSourcePlugin, scimSourcePlugin] as const;

/** `source:` in the config: one of the registered sources' options. */
export const sourceSchema = z.discriminatedUnion('type', [SOURCES[0].options, ...SOURCES.slice(1).map((s) => s.options)]);
