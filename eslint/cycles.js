/**
 * No import circles (DESIGN.md, "Layout and layers"): `import-x/no-cycle` from
 * eslint-plugin-import-x, resolving `./x.js` to `./x.ts` as the layering rule does.
 * test/lint/cycles.test.ts proves the rule bites.
 */
import path from 'node:path';

const tsResolver = path.join(import.meta.dirname, 'resolve-ts.cjs');

/** The plugin, or undefined while it is not installed (the lint then says so instead of failing to load). */
async function loadImportX() {
  try {
    const mod = await import('eslint-plugin-import-x');
    return mod.default ?? mod;
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

const importX = await loadImportX();

/** Whether the no-cycle rule is in force. */
export const cyclesChecked = importX !== undefined;

/** The flat-config block that rejects an import circle among the project's files. */
export function cycleConfigs() {
  if (!importX) {
    console.warn('eslint: import circles are not checked: eslint-plugin-import-x is not installed (npm install --save-dev eslint-plugin-import-x)');
    return [];
  }
  return [
    {
      files: ['**/*.ts'],
      plugins: { 'import-x': importX },
      settings: {
        // Only the project's own files are followed: a package that does not resolve is not part of a circle.
        'import-x/resolver': { [tsResolver]: {} },
        'import-x/extensions': ['.ts', '.js'],
      },
      rules: {
        // Type-only imports are skipped by the rule: they vanish from the built code, so they cannot break loading order.
        'import-x/no-cycle': 'error',
      },
    },
  ];
}
