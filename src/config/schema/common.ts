import { z } from 'zod';
import { formatDuration, parseDuration } from '../../core/duration.js';

/** A duration: a number of milliseconds, or text such as 500ms, 10s, 5m, 1h. Parsed to milliseconds. */
export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `"${String(value)}" is not a duration (use e.g. 500ms, 10s, 5m, 1h)`,
    });
    return z.NEVER;
  }
  return ms;
});

export const positiveDuration = duration.refine((ms) => ms > 0, 'must be longer than 0');

export const identifier = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/,
    'use letters, digits and _ . : - (starting with a letter or digit)',
  );

export const hostPort = z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port');

export const logLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/**
 * TLS to a service (Kafka, Redis, MQTT, SMTP): PEM files. `ca` alone verifies the server; `cert` and
 * `key` add a client certificate. Passwords never live in the file: see the VIGIL_*_PASSWORD variables.
 */
export const clientTls = z
  .object({
    ca: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    rejectUnauthorized: z.boolean().default(true),
  })
  .strict()
  .refine((t) => (t.cert === undefined) === (t.key === undefined), {
    message: '`cert` and `key` go together',
    path: ['cert'],
  });

/** PEM files for TLS to a service; `ca` verifies it, `cert` + `key` identify us. */
export type TlsFiles = z.output<typeof clientTls>;

/** How to authenticate to a service; the password comes from the environment only. */
export interface Credentials {
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

/** Where secrets come from: the process environment (never the file). */
export type Env = Readonly<Record<string, string | undefined>>;

/** A secret from the environment, as an optional `password` field. */
export function secret(env: Env, name: string): { password?: string | undefined } {
  const value = env[name];
  return value === undefined || value === '' ? {} : { password: value };
}

/** Checks that each item's `id` is unique within a list. */
export function uniqueIds(what: string) {
  return (list: readonly { readonly id: string }[], ctx: z.RefinementCtx): void => {
    const ids = new Set<string>();
    list.forEach((item, i) => {
      if (ids.has(item.id))
        ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate ${what} id "${item.id}"` });
      ids.add(item.id);
    });
  };
}

export { formatDuration };
