import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { layeringConfigs } from './eslint/boundaries.js';
import { TEMPORARY_EXCEPTIONS } from './eslint/layers.js';
import { cycleConfigs } from './eslint/cycles.js';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URLSearchParams: 'readonly', NodeJS: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-sequences': 'off',
    },
  },
  {
    files: ['eslint/**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // The layering of DESIGN.md: allowed edges and temporary exceptions are named in eslint/layers.js.
  ...layeringConfigs({ exceptions: TEMPORARY_EXCEPTIONS }),
  // No import circles: a module that needs its importer is two concepts, or one in two files.
  ...cycleConfigs(),
);
