import { z } from 'zod';
import { AGGREGATES, needsSketch, type AggregateName } from '../../core/aggregate.js';
import { idGlob } from '../../core/glob.js';
import type { Rule } from '../../core/rules/types.js';
import type { SensorPipeline } from '../../core/sensor.js';
import type { WindowSpec } from '../../core/windows.js';
import { duration, formatDuration, identifier, positiveDuration } from './common.js';

const severity = z.enum(['info', 'warning', 'critical']).default('warning');
const labels = z.record(z.string(), z.string()).default({});

const windowSpec = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('tumbling'), size: positiveDuration, name: identifier.optional() }).strict(),
  z
    .object({
      kind: z.literal('sliding'),
      size: positiveDuration,
      slide: positiveDuration,
      name: identifier.optional(),
    })
    .strict()
    .refine((w) => w.slide <= w.size, { message: '`slide` must not be longer than `size`', path: ['slide'] }),
  z.object({ kind: z.literal('session'), gap: positiveDuration, name: identifier.optional() }).strict(),
]);

type ParsedWindow = z.output<typeof windowSpec>;

/** The default name of a window spec: kind and sizes, e.g. tumbling-10s, sliding-1m-10s, session-30s. */
export function windowName(w: ParsedWindow): string {
  if (w.name !== undefined) return w.name;
  switch (w.kind) {
    case 'tumbling':
      return `tumbling-${formatDuration(w.size)}`;
    case 'sliding':
      return `sliding-${formatDuration(w.size)}-${formatDuration(w.slide)}`;
    case 'session':
      return `session-${formatDuration(w.gap)}`;
  }
}

function toWindowSpec(w: ParsedWindow): WindowSpec {
  const name = windowName(w);
  switch (w.kind) {
    case 'tumbling':
      return { kind: 'tumbling', name, sizeMs: w.size };
    case 'sliding':
      return { kind: 'sliding', name, sizeMs: w.size, slideMs: w.slide };
    case 'session':
      return { kind: 'session', name, gapMs: w.gap };
  }
}

/**
 * Which sensors a rule judges, and per sensor id its own thresholds: `overrides` takes, per sensor,
 * the kind's tunable keys below (written as in the rule itself), and the sensor's rule is validated
 * as a whole (so `below` must still be lower than `above`).
 */
const ruleScope = {
  sensors: z.array(z.string().min(1)).min(1).optional(),
  sensorLabels: z.record(z.string().min(1), z.string()).optional(),
  overrides: z.record(z.string().min(1), z.record(z.string(), z.unknown())).optional(),
};

const ruleBase = { id: identifier, severity, labels, ...ruleScope };

/** The keys of each kind a sensor's `overrides` may set. */
export const TUNABLE: Readonly<Record<Rule['kind'], readonly string[]>> = {
  threshold: ['above', 'below', 'hysteresis', 'minDuration'],
  outlier: ['zScore', 'mean', 'stddev', 'minSamples'],
  'rate-of-change': ['maxPerSecond'],
  count: ['above'],
  aggregate: ['above', 'below', 'hysteresis', 'minDuration', 'keepFiringFor', 'minCount'],
  silence: ['after'],
};

const thresholdRule = z
  .object({
    ...ruleBase,
    kind: z.literal('threshold'),
    metric: z.string().min(1),
    above: z.number().optional(),
    below: z.number().optional(),
    hysteresis: z.number().min(0, 'must not be negative').default(0),
    minDuration: duration.default(0),
  })
  .strict()
  .refine(
    (r) => r.above !== undefined || r.below !== undefined,
    'a threshold rule needs `above`, `below` or both',
  )
  .refine((r) => r.above === undefined || r.below === undefined || r.below < r.above, {
    message: '`below` must be lower than `above`',
    path: ['below'],
  });

const outlierRule = z
  .object({
    ...ruleBase,
    kind: z.literal('outlier'),
    metric: z.string().min(1),
    zScore: z.number().positive('must be above 0'),
    mean: z.number().optional(),
    stddev: z.number().positive('must be above 0').optional(),
    minSamples: z.number().int().min(2).default(30),
  })
  .strict()
  .refine((r) => (r.mean === undefined) === (r.stddev === undefined), {
    message: 'give both `mean` and `stddev` (a configured distribution) or neither (learned)',
    path: ['mean'],
  });

const aggregateRule = z
  .object({
    ...ruleBase,
    kind: z.literal('aggregate'),
    window: identifier,
    metric: z.string().min(1),
    aggregate: z.enum(AGGREGATES),
    above: z.number().optional(),
    below: z.number().optional(),
    hysteresis: z.number().min(0, 'must not be negative').default(0),
    minDuration: duration.default(0),
    keepFiringFor: duration.default(0),
    minCount: z.number().int().min(1).default(2),
  })
  .strict()
  .refine(
    (r) => r.above !== undefined || r.below !== undefined,
    'an aggregate rule needs `above`, `below` or both',
  )
  .refine((r) => r.above === undefined || r.below === undefined || r.below < r.above, {
    message: '`below` must be lower than `above`',
    path: ['below'],
  });

const ruleFields = z.discriminatedUnion('kind', [
  thresholdRule,
  outlierRule,
  z
    .object({
      ...ruleBase,
      kind: z.literal('rate-of-change'),
      metric: z.string().min(1),
      maxPerSecond: z.number().positive(),
    })
    .strict(),
  z
    .object({
      ...ruleBase,
      kind: z.literal('count'),
      window: identifier,
      metric: z.string().min(1),
      above: z.number().int().min(0),
    })
    .strict(),
  aggregateRule,
  z.object({ ...ruleBase, kind: z.literal('silence'), after: positiveDuration }).strict(),
]);

type RuleFields = z.output<typeof ruleFields>;

/** One alert rule, as the core evaluates it, with its overrides resolved (each a whole rule). */
export const ruleSpec = ruleFields.transform((r, ctx): Rule => {
  const { overrides, sensors, sensorLabels, ...plain } = r;
  const resolved: Record<string, Rule> = {};
  for (const [sensorId, o] of Object.entries(overrides ?? {})) {
    const path = ['overrides', sensorId];
    const foreign = Object.keys(o).filter((k) => !TUNABLE[r.kind].includes(k));
    if (foreign.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, foreign[0] ?? ''],
        message: `not a threshold a sensor can have of its own in a ${r.kind} rule (those are: ${TUNABLE[r.kind].join(', ')})`,
      });
      continue;
    }
    if (sensors !== undefined && !sensors.some((g) => idGlob(g)(sensorId))) {
      ctx.addIssue({
        code: 'custom',
        path,
        message: `${sensorId} is not among the sensors the rule judges (${sensors.join(', ')})`,
      });
      continue;
    }
    const own = ruleFields.safeParse({ ...plain, ...o });
    if (own.success) resolved[sensorId] = toRule(own.data);
    else
      for (const issue of own.error.issues)
        ctx.addIssue({ code: 'custom', path: [...path, ...issue.path], message: issue.message });
  }
  return {
    ...toRule(r),
    ...(sensors === undefined ? {} : { sensors }),
    ...(sensorLabels === undefined ? {} : { sensorLabels }),
    ...(overrides === undefined ? {} : { overrides: resolved }),
  };
});

/** The rule without its scope (the caller adds it). */
function toRule(r: RuleFields): Rule {
  const base = { id: r.id, severity: r.severity, labels: r.labels };
  switch (r.kind) {
    case 'threshold':
      return {
        ...base,
        kind: 'threshold',
        metric: r.metric,
        hysteresis: r.hysteresis,
        minDurationMs: r.minDuration,
        ...(r.above === undefined ? {} : { above: r.above }),
        ...(r.below === undefined ? {} : { below: r.below }),
      };
    case 'outlier':
      return {
        ...base,
        kind: 'outlier',
        metric: r.metric,
        zScore: r.zScore,
        minSamples: r.minSamples,
        ...(r.mean === undefined || r.stddev === undefined ? {} : { mean: r.mean, stddev: r.stddev }),
      };
    case 'rate-of-change':
      return { ...base, kind: 'rate-of-change', metric: r.metric, maxPerSecond: r.maxPerSecond };
    case 'count':
      return { ...base, kind: 'count', window: r.window, metric: r.metric, above: r.above };
    case 'aggregate':
      return {
        ...base,
        kind: 'aggregate',
        window: r.window,
        metric: r.metric,
        aggregate: r.aggregate,
        hysteresis: r.hysteresis,
        minDurationMs: r.minDuration,
        keepFiringForMs: r.keepFiringFor,
        minCount: r.minCount,
        ...(r.above === undefined ? {} : { above: r.above }),
        ...(r.below === undefined ? {} : { below: r.below }),
      };
    case 'silence':
      return { ...base, kind: 'silence', afterMs: r.after };
  }
}

/** What a rule must agree with in its pipeline: the windows it names and the aggregates they compute. */
export interface RuleContext {
  readonly windows: readonly string[];
  readonly aggregates: readonly AggregateName[];
}

/**
 * Why a rule does not fit its pipeline (a window it names is not there, an aggregate it reads is not
 * computed), as [field, message]; undefined when it fits. Shared by the file and rules set at run time.
 */
export function ruleMismatch(rule: Rule, p: RuleContext): [string, string] | undefined {
  if ((rule.kind === 'count' || rule.kind === 'aggregate') && !p.windows.includes(rule.window))
    return ['window', `no window named "${rule.window}" (windows: ${p.windows.join(', ')})`];
  if (rule.kind === 'aggregate' && !p.aggregates.includes(rule.aggregate))
    return [
      'aggregate',
      `the pipeline does not compute "${rule.aggregate}" (aggregates: ${p.aggregates.join(', ')})`,
    ];
  return undefined;
}

type WindowInput = z.input<typeof windowSpec>;
type RuleInput = z.input<typeof ruleSpec>;

/** What differs between the readings pipeline and the log pipeline: their defaults. */
export interface PipelineDefaults {
  /** Unset: `windows` must be given. */
  readonly windows?: WindowInput[];
  readonly metrics?: string[];
  readonly aggregates: (typeof AGGREGATES)[number][];
  readonly rules: RuleInput[];
  readonly dedupeHorizon: number;
  readonly exemplars?: { metrics: string[]; max?: number };
}

/** A pipeline's settings; `maxHeldEvents` comes from the engine section. */
export type PipelineSettings = Omit<SensorPipeline, 'maxHeldEvents'> & {
  /** How long per-minute rollups are kept in the store. */
  readonly rollupTtlMs: number;
  /** How long a minute's raw readings are kept beside its rollup (0: none; queries then whole minutes). */
  readonly rawTtlMs: number;
};

/** A pipeline: event time, dedupe, windows, aggregates, rules, rollups (readings, and log sources). */
export function pipelineSchema(d: PipelineDefaults) {
  const windows = z.array(windowSpec).min(1, 'at least one window is needed');
  const metrics = z.array(z.string().min(1)).min(1);
  return z
    .object({
      eventTime: z
        .object({
          outOfOrderness: duration.default(0),
          allowedLateness: duration.default(0),
          /** Stream time after a sensor's last reading at which its open windows close anyway. */
          idleTimeout: positiveDuration.optional(),
        })
        .strict()
        .prefault({}),
      dedupe: z
        .object({ horizon: duration.default(d.dedupeHorizon) })
        .strict()
        .prefault({}),
      windows: d.windows === undefined ? windows : windows.prefault(d.windows),
      metrics: d.metrics === undefined ? metrics.optional() : metrics.prefault(d.metrics),
      aggregates: z.array(z.enum(AGGREGATES)).min(1).prefault(d.aggregates),
      rules: z.array(ruleSpec).prefault(d.rules),
      /** Keep the texts of readings carrying these metrics (log lines) with their windows. */
      exemplars: z
        .object({
          metrics: z.array(z.string().min(1)).min(1),
          max: z.number().int().min(1).max(10_000).default(100),
          /** Characters kept of each (a window result, and an alert's report, stay bounded). */
          maxLength: z.number().int().min(16).max(65_536).default(2_000),
        })
        .strict()
        .optional()
        .prefault(d.exemplars),
      rollups: z
        .object({
          enabled: z.boolean().default(true),
          ttl: positiveDuration.default(7 * 86_400_000),
          /** Raw readings, for queries exact to the millisecond and the open minute (10 bytes a value). */
          rawTtl: duration.default(3_600_000),
        })
        .strict()
        .prefault({}),
    })
    .strict()
    .superRefine((p, ctx) => {
      checkUnique(
        p.rules.map((r) => r.id),
        'rules',
        (id) => ['id', `duplicate rule id "${id}"`],
        ctx,
      );
      const names = p.windows.map(windowName);
      checkUnique(names, 'windows', (n) => [undefined, `duplicate window "${n}" (give one a \`name\`)`], ctx);
      p.rules.forEach((rule, i) => {
        const mismatch = ruleMismatch(rule, { windows: names, aggregates: p.aggregates });
        if (mismatch !== undefined)
          ctx.addIssue({ code: 'custom', path: ['rules', i, mismatch[0]], message: mismatch[1] });
      });
    })
    .transform((p): PipelineSettings => ({
      windows: p.windows.map(toWindowSpec),
      window: {
        allowedLatenessMs: p.eventTime.allowedLateness,
        aggregates: p.aggregates,
        withSketch: needsSketch(new Set(p.aggregates)),
        metrics: p.metrics === undefined ? undefined : new Set(p.metrics),
        exemplars:
          p.exemplars === undefined
            ? undefined
            : { metrics: new Set(p.exemplars.metrics), max: p.exemplars.max },
      },
      rules: p.rules,
      outOfOrdernessMs: p.eventTime.outOfOrderness,
      dedupeHorizonMs: p.dedupe.horizon,
      idleTimeoutMs: p.eventTime.idleTimeout,
      rollups: p.rollups.enabled,
      rawReadings: p.rollups.enabled && p.rollups.rawTtl > 0,
      rollupTtlMs: p.rollups.ttl,
      rawTtlMs: p.rollups.enabled ? p.rollups.rawTtl : 0,
    }));
}

function checkUnique(
  values: readonly string[],
  list: string,
  issue: (value: string) => [string | undefined, string],
  ctx: z.RefinementCtx,
): void {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    if (seen.has(v)) {
      const [field, message] = issue(v);
      ctx.addIssue({ code: 'custom', path: field === undefined ? [list, i] : [list, i, field], message });
    }
    seen.add(v);
  });
}

/** The readings pipeline's defaults: every aggregate, no rules, repeats dropped within 5 minutes. */
export const READINGS_PIPELINE_DEFAULTS: PipelineDefaults = {
  aggregates: [...AGGREGATES],
  rules: [],
  dedupeHorizon: 300_000,
};

/** The log pipeline's defaults: per source, lines per level in 60-second windows, > 1 ERROR alerts. */
export const LOG_WINDOWS: WindowInput[] = [{ kind: 'tumbling', size: 60_000 }];

export const LOG_PIPELINE_DEFAULTS: PipelineDefaults = {
  windows: LOG_WINDOWS,
  metrics: ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'],
  aggregates: ['count'],
  rules: [
    {
      id: 'log-errors',
      kind: 'count',
      window: 'tumbling-1m',
      metric: 'ERROR',
      above: 1,
      severity: 'warning',
    },
  ],
  // Log lines repeat legitimately (the same message in the same millisecond); the fetcher delivers
  // each line exactly once, so nothing is deduplicated here.
  dedupeHorizon: 0,
  exemplars: { metrics: ['ERROR'], max: 100 },
};
