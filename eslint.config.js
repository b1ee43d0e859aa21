// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Imports each layer may not make: the folder layout is the architecture (docs/adr/0001). */
const layer = (/** @type {string[]} */ patterns, /** @type {string} */ message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }],
});

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'bench/results/', 'tools/controlplane/**/*.go'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'bin/*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // node:test's test/describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'describe', 'it', 'suite', 'before', 'after'],
            },
          ],
        },
      ],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/rules/**/*.ts', 'src/plan/**/*.ts'],
    rules: layer(
      [
        '@kubernetes/*',
        '**/kube/**',
        '**/runtime/**',
        '**/app/**',
        '**/cli/**',
        'node:fs*',
        'node:http*',
        'node:net',
      ],
      'rules/ and plan/ are pure: no client, no I/O, no runtime or wiring imports.',
    ),
  },
  {
    // The API types and converters are pure too; only their tests read the CRD files.
    files: ['src/api/**/*.ts'],
    ignores: ['src/api/**/*.test.ts'],
    rules: layer(
      [
        '@kubernetes/*',
        '**/kube/**',
        '**/runtime/**',
        '**/app/**',
        '**/cli/**',
        '**/plan/**',
        'node:fs*',
        'node:http*',
        'node:net',
      ],
      'api/ is pure: types and conversions into the rule model, no client, no I/O, no wiring.',
    ),
  },
  {
    files: ['src/runtime/**/*.ts'],
    rules: layer(
      ['@kubernetes/*', '**/rules/**', '**/plan/**', '**/app/**', '**/kube/**', '**/cli/**'],
      'runtime/ is generic machinery and knows no domain.',
    ),
  },
  {
    files: ['src/app/**/*.ts', 'src/cli/**/*.ts'],
    rules: layer(['@kubernetes/*'], 'Only src/kube/ imports @kubernetes/client-node.'),
  },
  {
    // Importing it costs ~84 MiB of RSS: only the kubeconfig fallback loads it, with await import().
    files: ['src/kube/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@kubernetes/*'],
              allowTypeImports: true,
              message:
                'Import @kubernetes/client-node dynamically, for the kubeconfig fallback only (docs/adr/0008).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', URL: 'readonly', console: 'readonly' } },
  },
);
