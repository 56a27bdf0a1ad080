import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../core/errors.js';
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

/** Where a key is in the file (`file:line:column`), for messages; undefined when not from a file. */
type Locate = (path: readonly PropertyKey[]) => string | undefined;

/** Validates an already-parsed object (from YAML, or built in code by tests). */
export function buildConfig(raw: unknown, env: Env = {}, locate?: Locate): VigilConfig {
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

/** An issue in words: passwords and renamed keys get a sentence of their own. */
function issueMessage(issue: z.core.$ZodIssue, path: string): string {
  if (issue.code !== 'unrecognized_keys') return issue.message;
  const variable = PASSWORD_VARIABLES[path];
  if (issue.keys.includes('password') && variable !== undefined)
    return `passwords never live in the config file: set ${variable}`;
  const renamed = path === '' ? issue.keys.find((k) => RENAMED_KEYS[k] !== undefined) : undefined;
  return renamed === undefined ? issue.message : `\`${renamed}\` is now ${RENAMED_KEYS[renamed] ?? ''}`;
}

/** A problem's place as one number (line, then column), for listing problems in the file's order. */
function position(at: string | undefined): number {
  const m = at === undefined ? null : /:(\d+):(\d+)$/.exec(at);
  return m === null ? 0 : Number(m[1]) * 100_000 + Number(m[2]);
}

function zodToConfigError(error: z.ZodError, locate?: Locate): ConfigError {
  const problems = error.issues
    .map((issue): ConfigProblem => {
      const path = formatPath(issue.path);
      const at = locate?.(issue.path);
      return { ...(at === undefined ? {} : { at }), path, message: issueMessage(issue, path) };
    })
    .sort((a, b) => position(a.at) - position(b.at));
  const first = problems[0] ?? { path: '', message: 'invalid' };
  const where = first.at === undefined ? '' : ` (${first.at})`;
  const others =
    problems.length > 1
      ? ` (and ${problems.length - 1} more problem(s): \`vigil config check\` lists them all)`
      : '';
  return new ConfigError(first.path, `${first.message}${where}${others}`, { cause: error, problems });
}

/** Reads, parses and validates a YAML config file. Errors say the file, the path in it and the line. */
export function loadConfigText(text: string, source: string, env: Env = {}): VigilConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e): ConfigProblem => {
      const pos = e.linePos?.[0];
      // prettyErrors puts the position and an excerpt after the first line: `at` says where.
      const message = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:$/, '');
      return { ...(pos === undefined ? {} : { at: `${source}:${pos.line}:${pos.col}` }), path: '', message };
    });
    const first = doc.errors[0];
    throw new ConfigError('', `${source}: not valid YAML: ${first?.message ?? ''}`, {
      cause: first,
      problems,
    });
  }
  const locate = (path: readonly PropertyKey[]): string => {
    // Walk up to the deepest node that exists, so "missing key" errors point at their parent.
    for (let depth = path.length; depth >= 0; depth--) {
      const node = doc.getIn(path.slice(0, depth) as (string | number)[], true) as
        { range?: [number, number, number] } | undefined;
      if (node?.range !== undefined) {
        const { line, col } = lineCounter.linePos(node.range[0]);
        return `${source}:${line}:${col}`;
      }
    }
    return source;
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
