import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import type { QuerySettings } from '../core/rollup-query.js';
import type { Rule } from '../core/rules/types.js';
import type { Env } from './schema/common.js';
import { configSchema, type VigilConfig } from './schema/index.js';
import { ruleMismatch, ruleSpec, type RuleContext } from './schema/pipeline.js';

export type { Credentials, TlsFiles } from './schema/common.js';
export type { ConfigInput, LogSourceConfig, SinkConfig, VigilConfig } from './schema/index.js';
export { sinkSecretVariable } from './schema/notify.js';
export { windowName } from './schema/pipeline.js';
export { TOPIC_NAMES, type TopicRole } from './schema/services.js';

/** Environment variables that override the file (secrets and per-process settings never live in code). */
const ENV_OVERRIDES: readonly (readonly [string, string, string, ((v: string) => unknown)?])[] = [
  ['VIGIL_NODE_ID', 'node', 'id'],
  ['VIGIL_LOG_LEVEL', 'log', 'level'],
  ['VIGIL_KAFKA_BROKERS', 'kafka', 'brokers', (v) => v.split(',').map((s) => s.trim())],
  ['VIGIL_KAFKA_GROUP_ID', 'kafka', 'groupId'],
  ['VIGIL_TOPIC_PREFIX', 'kafka', 'topicPrefix'],
  ['VIGIL_REDIS_URL', 'redis', 'url'],
  ['VIGIL_REDIS_KEY_PREFIX', 'redis', 'keyPrefix'],
  ['VIGIL_REDIS_USERNAME', 'redis', 'username'],
  ['VIGIL_GRPC_LISTEN', 'grpc', 'listen'],
  ['VIGIL_GRPC_ADVERTISE', 'grpc', 'advertise'],
  ['VIGIL_HTTP_LISTEN', 'http', 'listen'],
  ['VIGIL_MQTT_URL', 'mqtt', 'url'],
  ['VIGIL_MQTT_USERNAME', 'mqtt', 'username'],
];

/** Prefixes may be set to the empty string on purpose; every other variable only when non-empty. */
const EMPTY_ALLOWED = new Set(['VIGIL_TOPIC_PREFIX', 'VIGIL_REDIS_KEY_PREFIX']);

function applyEnv(raw: Record<string, unknown>, env: Env): void {
  for (const [variable, section, key, convert] of ENV_OVERRIDES) {
    const value = env[variable];
    if (value === undefined || (value === '' && !EMPTY_ALLOWED.has(variable))) continue;
    const existing = raw[section];
    const target =
      typeof existing === 'object' && existing !== null ? (existing as Record<string, unknown>) : {};
    raw[section] = target;
    target[key] = convert === undefined ? value : convert(value);
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, key) =>
      typeof key === 'number' ? `${acc}[${key}]` : acc === '' ? String(key) : `${acc}.${String(key)}`,
    '',
  );
}

/** Validates an already-parsed object (from YAML, or built in code by tests). */
export function buildConfig(
  raw: unknown,
  env: Env = {},
  locate?: (path: readonly PropertyKey[]) => string,
): VigilConfig {
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError('', 'the configuration must be a mapping of sections (node, log, kafka, pipeline)');
  }
  const input: Record<string, unknown> =
    typeof raw === 'object' && raw !== null ? structuredClone(raw as Record<string, unknown>) : {};
  applyEnv(input, env);
  const parsed = configSchema(env).safeParse(input);
  if (!parsed.success) throw zodToConfigError(parsed.error, locate);
  return parsed.data;
}

/** What a metrics query may find kept besides the rollups, and how much it may span (core/rollup-query.ts). */
export function querySettings(config: VigilConfig): QuerySettings {
  return { rawTtlMs: config.rawTtlMs, maxSeriesMinutes: config.limits.maxQuerySeriesMinutes };
}

/**
 * Parses and validates one rule on its own (rules set at run time over the control plane). With its
 * pipeline's windows and aggregates, a window rule must name them, as in the file.
 */
export function parseRule(raw: unknown, pipeline?: RuleContext): Rule {
  const parsed = ruleSpec.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue === undefined ? '' : formatPath(issue.path);
    throw new ConfigError(path, issue?.message ?? 'invalid rule', { cause: parsed.error });
  }
  const rule = parsed.data;
  const mismatch = pipeline === undefined ? undefined : ruleMismatch(rule, pipeline);
  if (mismatch !== undefined) throw new ConfigError(mismatch[0], mismatch[1]);
  return rule;
}

/** Where each service's password comes from instead of the file. */
const PASSWORD_VARIABLES: Readonly<Record<string, string>> = {
  'kafka.sasl': 'VIGIL_KAFKA_SASL_PASSWORD',
  redis: 'VIGIL_REDIS_PASSWORD',
  mqtt: 'VIGIL_MQTT_PASSWORD',
};

/** Keys renamed since an earlier version: what to write instead. */
const RENAMED_KEYS: Readonly<Record<string, string>> = { sinks: '`outputs` (aggregates, alerts)' };

function zodToConfigError(error: z.ZodError, locate?: (path: readonly PropertyKey[]) => string): ConfigError {
  const first = error.issues[0];
  const path = first === undefined ? '' : formatPath(first.path);
  const where = first !== undefined && locate !== undefined ? locate(first.path) : '';
  const others =
    error.issues.length > 1 ? ` (${error.issues.length - 1} more problem(s) after this one)` : '';
  let message = first?.message ?? 'invalid';
  if (first?.code === 'unrecognized_keys') {
    const variable = PASSWORD_VARIABLES[path];
    if (first.keys.includes('password') && variable !== undefined)
      message = `passwords never live in the config file: set ${variable}`;
    const renamed = path === '' ? first.keys.find((k) => RENAMED_KEYS[k] !== undefined) : undefined;
    if (renamed !== undefined) message = `\`${renamed}\` is now ${RENAMED_KEYS[renamed] ?? ''}`;
  }
  return new ConfigError(path, `${message}${where}${others}`, { cause: error });
}

/** Reads, parses and validates a YAML config file. Errors say the file, the path in it and the line. */
export function loadConfigText(text: string, source: string, env: Env = {}): VigilConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    throw new ConfigError('', `${source}: not valid YAML: ${yamlError.message}`, { cause: yamlError });
  }
  const locate = (path: readonly PropertyKey[]): string => {
    // Walk up to the deepest node that exists, so "missing key" errors point at their parent.
    for (let depth = path.length; depth >= 0; depth--) {
      const node = doc.getIn(path.slice(0, depth) as (string | number)[], true) as
        { range?: [number, number, number] } | undefined;
      if (node?.range !== undefined) {
        const { line, col } = lineCounter.linePos(node.range[0]);
        return ` (${source}:${line}:${col})`;
      }
    }
    return ` (${source})`;
  };
  return buildConfig(doc.toJS() as unknown, env, locate);
}

export function loadConfigFile(file: string, env: Env = process.env): VigilConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return loadConfigText(text, file, env);
}
