import { createHmac } from 'node:crypto';
import type { SinkConfig } from '../../config/load.js';
import type { Alert } from '../../core/outputs.js';
import { DeliveryError, httpStatusRetriable, type Sink } from './sink.js';

type WebhookConfig = Extract<SinkConfig, { kind: 'webhook' }>;

/**
 * POSTs each alert as JSON `{"alert": {...}}`. Headers: `Idempotency-Key: <alert id>` (the same on
 * every retry and every replay, so the receiver can drop repeats), `X-Vigil-Sink`, and, when a secret
 * is set (VIGIL_SINK_<ID>_SECRET), `X-Vigil-Signature: sha256=<HMAC of the body>`.
 */
export class WebhookSink implements Sink {
  readonly kind = 'webhook';
  readonly id: string;

  constructor(private readonly c: WebhookConfig) {
    this.id = c.id;
  }

  async deliver(alert: Alert): Promise<void> {
    const body = JSON.stringify({ alert });
    const headers: Record<string, string> = {
      ...this.c.headers,
      'content-type': 'application/json',
      'idempotency-key': alert.id,
      'x-vigil-sink': this.c.id,
    };
    if (this.c.secret !== undefined)
      headers['x-vigil-signature'] =
        `sha256=${createHmac('sha256', this.c.secret).update(body).digest('hex')}`;
    let res: Response;
    try {
      res = await fetch(this.c.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(this.c.timeoutMs),
      });
    } catch (err) {
      throw new DeliveryError(`POST ${this.c.url}: ${describe(err)}`, { retriable: true, cause: err });
    }
    // The body is not needed; reading it lets the connection be reused.
    const text = await res.text().catch(() => '');
    if (res.ok) return;
    const retryAfter = retryAfterMs(res.headers.get('retry-after'));
    throw new DeliveryError(`POST ${this.c.url}: HTTP ${res.status} ${text.slice(0, 200)}`.trim(), {
      retriable: httpStatusRetriable(res.status),
      ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
