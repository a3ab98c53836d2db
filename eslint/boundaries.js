/**
 * Turns the layers named in eslint/layers.js into eslint-plugin-boundaries settings and rules.
 * Each layer is a file category (first match wins), so a single file like src/errors.ts can be a layer.
 */
import path from 'node:path';
import boundaries from 'eslint-plugin-boundaries';
import { ALLOWED_IMPORTS, CORE_FORBIDDEN_MODULES, LAYERS } from './layers.js';

const rootPath = path.dirname(import.meta.dirname);
const tsResolver = path.join(import.meta.dirname, 'resolve-ts.cjs');
const layerNames = LAYERS.map((entry) => entry.layer);

/** A folder stands for everything under it, a file for itself. */
const toGlob = (file) => (/\.[cm]?[jt]s$/.test(file) ? file : `${file}/**`);
const toLayers = (layers) => ({ to: { file: { categories: layers } } });

/** The edges out of a layer, as at most two selectors (each selector costs time on every import). */
function allowedFor(layer) {
  const allowed = ALLOWED_IMPORTS[layer];
  if (allowed === '*') return [toLayers(layerNames)];
  const edges = [layer, ...allowed, ...(layer === 'core' || layer === 'shared' ? [] : ['shared'])];
  const values = edges.filter((edge) => typeof edge === 'string');
  const typesOnly = edges.filter((edge) => typeof edge !== 'string').map((edge) => edge.layer);
  return [toLayers(values), ...(typesOnly.length > 0 ? [{ ...toLayers(typesOnly), dependency: { kind: 'type' } }] : [])];
}

/** One policy per layer imported by exception: the files that may import it. */
function exceptionPolicies(exceptions) {
  const filesByLayer = new Map();
  for (const { file, imports } of exceptions) filesByLayer.set(imports, [...(filesByLayer.get(imports) ?? []), file]);
  return [...filesByLayer].map(([layer, files]) => ({ from: { file: { path: files } }, allow: toLayers(layer) }));
}

/** The options of `boundaries/dependencies`: the allowed edges, then the per-file exceptions. */
export function dependencyRuleOptions({ exceptions }) {
  return {
    default: 'disallow',
    checkUnknownLocals: true,
    message: 'scimsync layering: {{from.file.categories}} may not import {{to.file.categories}} ({{dependency.source}}); the allowed edges are in eslint/layers.js',
    policies: [
      ...layerNames.map((layer) => ({ from: { file: { categories: layer } }, allow: allowedFor(layer) })),
      ...exceptionPolicies(exceptions),
    ],
  };
}

/** The flat-config blocks that enforce the layering, with these temporary exceptions. */
export function layeringConfigs({ exceptions }) {
  const layering = {
    files: ['**/*.ts', '**/*.js'],
    plugins: { boundaries },
    settings: {
      'boundaries/root-path': rootPath,
      'boundaries/files': LAYERS.map(({ layer, files }) => ({ category: layer, pattern: files.map(toGlob) })),
      'boundaries/files-single-match': true,
      // Handlebars templates only: the legacy `${}` support costs most of the rule's time.
      'boundaries/legacy-templates': false,
      // Re-exports and lazy `import()` cross layers as much as static imports do.
      'boundaries/dependency-nodes': ['import', 'export', 'dynamic-import'],
      'import/resolver': { [tsResolver]: {} },
    },
    rules: {
      'boundaries/dependencies': ['error', dependencyRuleOptions({ exceptions })],
      // A new folder must be given a layer in eslint/layers.js before it can import anything.
      'boundaries/no-unknown-files': 'error',
    },
  };

  // core is pure (DESIGN.md): no I/O module, no clock, no randomness. node:crypto hashing is fine.
  const corePurity = {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: CORE_FORBIDDEN_MODULES.flatMap((name) => [name, `node:${name}`]).map((name) => ({
            name,
            message: 'src/core is pure: do the I/O in the layer that calls it (eslint/layers.js).',
          })),
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'src/core has no clock: take the time as an argument.' },
        { object: 'performance', property: 'now', message: 'src/core has no clock: take the time as an argument.' },
        { object: 'Math', property: 'random', message: 'src/core has no randomness: take it as an argument.' },
      ],
    },
  };
  return [layering, corePurity];
}
