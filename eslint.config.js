// Lint: strict type-aware rules, no floating promises, no console in library code, and the layers.
// Import cycles between files are checked by dpdm (npm run cycles), which needs no native bindings.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, lowest first. A folder imports only from folders below it (or from itself):
 *
 *   cli -> node (start-up wiring) -> transport (adapters: kafka, redis, grpc, http, mqtt, notify,
 *   files) -> engine -> actors -> sim -> ports (interfaces, in-memory implementations) -> obs (logger,
 *   metrics) -> config -> core (pure)
 *
 * `gen` (types generated from proto/) is for the gRPC adapters and the CLI only.
 */
const LAYERS = ['core', 'config', 'obs', 'ports', 'sim', 'actors', 'engine', 'transport', 'node', 'cli'];

/** Packages that do I/O or run actors: what the pure and the lower layers may not import. */
const IO = ['nact', 'kafkajs', 'ioredis', 'mqtt', '@grpc/*', 'nodemailer', 'pino', 'prom-client', 'node:*'];
const ADAPTER_LIBS = ['kafkajs', 'ioredis', 'mqtt', '@grpc/*', 'nodemailer'];
/** What each layer may not import besides the layers above it. */
const FORBIDDEN_PACKAGES = {
  // node:crypto is pure computation (hashes for deterministic ids).
  core: { patterns: IO, except: ['node:crypto'] },
  config: { patterns: IO, except: ['node:crypto', 'node:fs', 'node:os'] },
  ports: { patterns: IO, except: ['node:crypto'] },
  actors: { patterns: ADAPTER_LIBS.concat(['prom-client']), except: [] },
  engine: { patterns: ADAPTER_LIBS.concat(['nact']), except: [] },
};

/** One override per layer and folder depth, so each relative import is matched exactly. */
function layerRules() {
  const configs = [];
  LAYERS.forEach((layer, rank) => {
    const above = LAYERS.slice(rank + 1).concat(rank >= LAYERS.indexOf('transport') ? [] : ['gen']);
    const forbidden = FORBIDDEN_PACKAGES[layer];
    for (let depth = 1; depth <= 4; depth++) {
      const up = '\\.\\./'.repeat(depth);
      const files = [`src/${layer}/${'*/'.repeat(depth - 1)}*.ts`];
      const patterns = [];
      if (above.length > 0)
        patterns.push({
          regex: `^${up}(${above.join('|')})(/|$)`,
          message: `${layer}/ is below ${above.join(', ')}: it may not import from them (eslint.config.js, LAYERS).`,
        });
      if (forbidden !== undefined)
        patterns.push({
          group: forbidden.patterns.concat(forbidden.except.map((e) => `!${e}`)),
          message: `${layer}/ may not use I/O or actor libraries (eslint.config.js, FORBIDDEN_PACKAGES).`,
        });
      if (patterns.length > 0)
        configs.push({ files, rules: { 'no-restricted-imports': ['error', { patterns }] } });
    }
  });
  return configs;
}

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.run/**',
      'cluster/kafka/target/**',
      'coverage/**',
      'src/gen/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // `const { a, ...rest } = x` is how a copy without `a` is made.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // Files and functions a reader can hold in mind. Tables (routes, commands) are flat and exempt
    // by being data, not functions.
    files: ['src/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 450, skipBlankLines: false, skipComments: false }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }],
    },
  },
  ...layerRules(),
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The dashboard runs in the browser: a module per panel (uPlot and the rule form are loaded
    // before them by script tags), and no file a reader cannot hold in mind.
    files: ['web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: { ...globals.browser, uPlot: 'readonly', vigilRuleForm: 'readonly' },
    },
    rules: { 'max-lines': ['error', { max: 250 }] },
  },
  {
    files: ['web/rule-form.js'],
    languageOptions: { sourceType: 'script' },
  },
);
