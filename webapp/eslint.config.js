import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Feature boundaries. A feature (src/features/<name>) is used from outside only through its
// public surface, its index.ts: `@/features/<name>`, never `@/features/<name>/components/...`.
// Inside a feature, imports are relative and never climb out of it, so reaching into another
// feature (`../../workspaces/status`) is refused too and the alias is the one way across.
const throughIndex = 'Import another feature only through its public surface, @/features/<name> (its index.ts).';
const featureBoundaries = [
  { regex: '^@/features/[^/]+/', message: throughIndex },
  { regex: '^\\.\\.?/(\\.\\./)*features/[^/]+/', message: throughIndex },
];
// One block per depth inside a feature (glob patterns cannot count): a file <depth> folders
// below its feature's root leaves the feature with <depth> + 1 "../".
const MAX_FEATURE_DEPTH = 5;
const stayInsideFeature = Array.from({ length: MAX_FEATURE_DEPTH + 1 }, (_, depth) => ({
  files: [`src/features/*/${'*/'.repeat(depth)}*.{ts,tsx}`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          ...featureBoundaries,
          {
            regex: `^(\\.\\./){${depth + 1}}`,
            message:
              'A relative import stays inside its feature. Use @/lib/..., @/components/... or another ' +
              "feature's @/features/<name>.",
          },
        ],
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist', 'node_modules', 'src/api/schema.d.ts', 'e2e'] },
  {
    files: ['**/*.{ts,tsx}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: { ecmaVersion: 2022, globals: { ...globals.browser, ...globals.node } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': ['error', { patterns: featureBoundaries }],
    },
  },
  ...stayInsideFeature,
  {
    files: ['scripts/**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
);
