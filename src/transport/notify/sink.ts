import type { Alert } from '../../core/outputs.js';
import { VigilError } from '../../core/errors.js';

/** Where alerts go besides vigil.alerts: a webhook, an MQTT topic, an inbox, a directory. */
export interface Sink {
  readonly id: string;
  readonly kind: string;
  /** Delivers one alert, or throws a DeliveryError saying whether trying again can succeed. */
  deliver(alert: Alert): Promise<void>;
  /**
   * A sink that keeps firing alerts standing by sending them again (Alertmanager lets an alert lapse
   * that is not): how often, and how. The notifier keeps which alerts fire (the outbox's standing
   * alerts, shared by all nodes) and hands them to one node's `send` once per period.
   */
  readonly resend?: { readonly everyMs: number; send(alerts: readonly Alert[]): Promise<void> };
  close(): Promise<void>;
}

/** A delivery that failed. `retriable`: the same alert may go through later (the sink was away). */
export class DeliveryError extends VigilError {
  constructor(
    message: string,
    options: { readonly retriable: boolean; readonly cause?: unknown; readonly retryAfterMs?: number },
  ) {
    super(message, {
      code: options.retriable ? 'DELIVERY_FAILED' : 'DELIVERY_REFUSED',
      retriable: options.retriable,
      cause: options.cause,
    });
    this.retryAfterMs = options.retryAfterMs;
  }

  /** The sink asked to wait this long (HTTP Retry-After). */
  readonly retryAfterMs: number | undefined;
}

/**
 * HTTP statuses a webhook may answer, and whether the same alert can go through later. Credentials
 * and missing endpoints are retriable: an operator can fix them, and the queued alerts then go out.
 * A payload the receiver refuses as such is not: it would be refused forever (it goes to vigil.dlq).
 * Not listed: 2xx delivered, other 4xx refused, 5xx retriable.
 */
export const HTTP_STATUS_RETRIABLE: ReadonlyMap<number, boolean> = new Map([
  [400, false],
  [401, true],
  [403, true],
  [404, true],
  [408, true],
  [409, false],
  [410, false],
  [413, false],
  [415, false],
  [422, false],
  [425, true],
  [429, true],
]);

export function httpStatusRetriable(status: number): boolean {
  return HTTP_STATUS_RETRIABLE.get(status) ?? status >= 500;
}

/**
 * SMTP reply codes (RFC 5321) and nodemailer's error codes, and whether a send can succeed later.
 * Authentication failures are retriable for the same reason as above. Not listed: 4xx retriable
 * (transient), 5xx refused (permanent), and any network error retriable.
 */
export const SMTP_REPLY_RETRIABLE: ReadonlyMap<number, boolean> = new Map([
  [421, true],
  [450, true],
  [451, true],
  [452, true],
  [454, true],
  [530, true],
  [535, true],
  [550, false],
  [551, false],
  [552, false],
  [553, false],
  [554, false],
]);

export const NODEMAILER_CODE_RETRIABLE: ReadonlyMap<string, boolean> = new Map([
  ['ECONNECTION', true],
  ['ETIMEDOUT', true],
  ['ESOCKET', true],
  ['EDNS', true],
  ['ETLS', true],
  ['EAUTH', true],
  ['EPROTOCOL', true],
  ['EENVELOPE', false],
  ['EMESSAGE', false],
]);

export function smtpErrorRetriable(err: { responseCode?: number; code?: string }): boolean {
  if (err.responseCode !== undefined)
    return SMTP_REPLY_RETRIABLE.get(err.responseCode) ?? err.responseCode < 500;
  return err.code === undefined ? true : (NODEMAILER_CODE_RETRIABLE.get(err.code) ?? true);
}
