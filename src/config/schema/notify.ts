import { z } from 'zod';
import { clientTls, identifier, positiveDuration, secret, uniqueIds, type Env } from './common.js';

const sinkFilter = z
  .object({
    states: z
      .array(z.enum(['firing', 'resolved']))
      .min(1)
      .optional(),
    severities: z
      .array(z.enum(['info', 'warning', 'critical']))
      .min(1)
      .optional(),
    rules: z.array(z.string().min(1)).min(1).optional(),
    sensors: z.array(z.string().min(1)).min(1).optional(),
    /** Only alerts that carry a report (a count rule's window: log errors). */
    withReport: z.boolean().optional(),
  })
  .strict()
  .default({});

/**
 * Grouped notifications (core/alert-groups.ts): the sink is told of groups of alerts, one notification
 * per group change, changes within `wait` of each other sent as one. `area`: a regular expression
 * whose first group in a sensor id is its area (`^(st-\d{3})`: st-0012 and st-0017 share st-001).
 */
const sinkGroup = z
  .object({
    by: z
      .array(z.enum(['rule', 'severity', 'area', 'sensor']))
      .min(1)
      .default(['rule', 'area']),
    area: z
      .string()
      .min(1)
      .optional()
      .superRefine((pattern, ctx) => {
        if (pattern === undefined) return;
        try {
          new RegExp(pattern);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: `not a regular expression: ${(err as Error).message}` });
        }
      }),
    wait: positiveDuration.default(10_000),
  })
  .strict()
  .transform((g) => ({
    by: g.by,
    area: g.area === undefined ? undefined : new RegExp(g.area),
    waitMs: g.wait,
  }))
  .optional();

const sinkBase = { id: identifier, filter: sinkFilter, group: sinkGroup };

const alertmanagerUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

/** The environment variable holding a sink's secret: VIGIL_SINK_<ID>_<WHAT>. */
export function sinkSecretVariable(sinkId: string, what: 'SECRET' | 'PASSWORD'): string {
  return `VIGIL_SINK_${sinkId.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${what}`;
}

/**
 * Where alerts go besides vigil.alerts. Secrets never live here: a webhook's signing secret comes from
 * VIGIL_SINK_<ID>_SECRET and an SMTP password from VIGIL_SINK_<ID>_PASSWORD (ID upper-cased, other
 * characters as _).
 */
function sinkSpec(env: Env) {
  return z.discriminatedUnion('kind', [
    z
      .object({
        ...sinkBase,
        kind: z.literal('webhook'),
        url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
        timeout: positiveDuration.default(5_000),
        headers: z.record(z.string(), z.string()).default({}),
      })
      .strict()
      .transform(({ timeout, ...s }) => {
        const signing = env[sinkSecretVariable(s.id, 'SECRET')];
        /** `secret`: the HMAC-SHA256 signing secret, from VIGIL_SINK_<ID>_SECRET. */
        return {
          ...s,
          timeoutMs: timeout,
          ...(signing === undefined || signing === '' ? {} : { secret: signing }),
        };
      }),
    z
      .object({
        // No `group`: Alertmanager groups alerts itself (its route's group_by).
        id: identifier,
        filter: sinkFilter,
        kind: z.literal('alertmanager'),
        /** Alertmanager's base URL, or several (an HA pair): each alert is posted to every one. */
        url: z.union([alertmanagerUrl, z.array(alertmanagerUrl).min(1)]),
        /** Firing alerts are sent again this often (as Prometheus does); unsent 4 times this, they resolve. */
        resend: positiveDuration.default(60_000),
        timeout: positiveDuration.default(5_000),
        /** The dashboard's URL, for each alert's generatorURL (default: this node's http.listen). */
        dashboard: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
      })
      .strict()
      .transform(({ url, resend, timeout, ...s }) => ({
        ...s,
        group: undefined,
        urls: (Array.isArray(url) ? url : [url]).map((u) => u.replace(/\/+$/, '')),
        resendMs: resend,
        timeoutMs: timeout,
      })),
    z
      .object({
        ...sinkBase,
        kind: z.literal('mqtt'),
        /** Placeholders: {sensorId} {ruleId} {severity} {state} {label.<name>}. */
        topic: z.string().min(1).default('vigil/alerts/{sensorId}/{ruleId}'),
        qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
        /** Retained: a display that subscribes later sees the current state at once. */
        retain: z.boolean().default(true),
      })
      .strict(),
    z
      .object({
        ...sinkBase,
        kind: z.literal('email'),
        smtp: z
          .object({
            host: z.string().min(1),
            port: z.number().int().min(1).max(65_535).default(587),
            /** true: TLS from the start (port 465); false: STARTTLS when the server offers it. */
            secure: z.boolean().default(false),
            /** Refuse to send without TLS (STARTTLS must succeed). */
            requireTls: z.boolean().default(false),
            username: z.string().min(1).optional(),
            tls: clientTls.optional(),
          })
          .strict(),
        from: z.string().min(3),
        to: z.array(z.string().min(3)).min(1),
        timeout: positiveDuration.default(15_000),
      })
      .strict()
      .transform(({ timeout, smtp, ...s }) => ({
        ...s,
        smtp: { ...smtp, ...secret(env, sinkSecretVariable(s.id, 'PASSWORD')) },
        timeoutMs: timeout,
      })),
    z
      .object({
        ...sinkBase,
        kind: z.literal('file'),
        /** One text file per alert: the alert and its report. */
        dir: z.string().min(1),
      })
      .strict(),
  ]);
}

export function notifySchema(env: Env) {
  return z
    .object({
      sinks: z.array(sinkSpec(env)).default([]).superRefine(uniqueIds('sink')),
      retry: z
        .object({
          /** First wait after a failed delivery; it doubles up to `max`. */
          initial: positiveDuration.default(1_000),
          max: positiveDuration.default(300_000),
          /** After this long undelivered, an alert goes to vigil.dlq with its last error (never lost). */
          giveUpAfter: positiveDuration.default(7 * 86_400_000),
          /** A delivery in progress this long is presumed lost with its node and tried again. */
          visibility: positiveDuration.default(30_000),
        })
        .strict()
        .prefault({})
        .transform((r) => ({
          initialMs: r.initial,
          maxMs: r.max,
          giveUpAfterMs: r.giveUpAfter,
          visibilityMs: r.visibility,
        })),
    })
    .strict()
    .prefault({});
}
