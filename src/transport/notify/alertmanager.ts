import type { SinkConfig } from '../../config/load.js';
import type { Alert } from '../../core/outputs.js';
import { DeliveryError, httpStatusRetriable, type Sink } from './sink.js';

type AlertmanagerConfig = Extract<SinkConfig, { kind: 'alertmanager' }>;

/** An alert as Alertmanager's API v2 takes it (`POST /api/v2/alerts`, a list of these). */
export interface PostableAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly generatorURL: string;
}

/** A label name as Prometheus and Alertmanager take them: [a-zA-Z_][a-zA-Z0-9_]*. */
export function labelName(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[a-zA-Z_]/.test(cleaned) ? cleaned : `_${cleaned}`;
}

/**
 * One Vigil alert as Alertmanager's: labels `alertname` (the rule), `sensor`, `severity`, the rule's
 * own labels and `vigil_sink`; annotations `summary` (the message), `description`, and `report` (a
 * count rule's lines); `startsAt` the episode's start. A firing alert ends `endsAtMs` from now unless
 * sent again (as Prometheus does: if Vigil stops sending, Alertmanager resolves it by itself); a
 * resolved one ends when it resolved.
 */
export function toPostable(
  a: Alert,
  sinkId: string,
  generatorURL: string,
  now: number,
  endsAtMs: number,
): PostableAlert {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(a.labels)) labels[labelName(k)] = v;
  Object.assign(labels, {
    alertname: a.ruleId,
    sensor: a.sensorId,
    severity: a.severity,
    vigil_sink: sinkId,
  });
  const annotations: Record<string, string> = {
    summary: a.message,
    description: `${a.kind} rule ${a.ruleId} on ${a.sensorId}: ${a.message}`,
  };
  if (a.report !== undefined) {
    const omitted = a.report.linesOmitted > 0 ? `\n(${a.report.linesOmitted} more lines)` : '';
    annotations['report'] = `${a.report.lines.join('\n')}${omitted}`;
  }
  const ends = a.state === 'firing' ? now + endsAtMs : Math.min(Math.max(a.ts, a.startedAt), now);
  return {
    labels,
    annotations,
    startsAt: new Date(a.startedAt).toISOString(),
    endsAt: new Date(ends).toISOString(),
    generatorURL,
  };
}

/** Alerts per POST when sending the firing ones again (Alertmanager takes any number; bodies stay small). */
const RESEND_CHUNK = 500;

/**
 * Alertmanager (and through it PagerDuty, Opsgenie, Slack, with its silences and inhibitions):
 * each alert is posted to every URL of `url` (an HA pair gossips; one taking it is enough). Alerts
 * come through the notifier's outbox, so one Alertmanager cannot take now is retried and nothing is
 * lost across restarts. Firing alerts are sent again every `resend` with a later `endsAt`, as
 * Prometheus does: the notifier keeps which alerts fire (shared by the nodes, in the outbox) and one
 * node per period calls `resend.send` with them. So an Alertmanager that restarts (it keeps no alerts)
 * has them back within a period, and one that hears nothing of an alert for 4 periods (Vigil gone)
 * resolves it by itself.
 */
export class AlertmanagerSink implements Sink {
  readonly kind = 'alertmanager';
  readonly id: string;
  readonly resend: { readonly everyMs: number; send(alerts: readonly Alert[]): Promise<void> };

  constructor(
    private readonly c: AlertmanagerConfig,
    private readonly generatorURL: (sensorId: string) => string,
  ) {
    this.id = c.id;
    this.resend = {
      everyMs: c.resendMs,
      send: async (alerts) => {
        for (let i = 0; i < alerts.length; i += RESEND_CHUNK)
          await this.post(alerts.slice(i, i + RESEND_CHUNK).map((a) => this.postable(a)));
      },
    };
  }

  async deliver(alert: Alert): Promise<void> {
    await this.post([this.postable(alert)]);
  }

  /** Alertmanager resolves a firing alert not sent again by then: 4 periods (as Prometheus does). */
  private postable(a: Alert): PostableAlert {
    return toPostable(a, this.id, this.generatorURL(a.sensorId), Date.now(), 4 * this.c.resendMs);
  }

  private async post(alerts: readonly PostableAlert[]): Promise<void> {
    const body = JSON.stringify(alerts);
    const failures: { message: string; retriable: boolean }[] = [];
    await Promise.all(
      this.c.urls.map(async (url) => {
        try {
          const res = await fetch(`${url}/api/v2/alerts`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            signal: AbortSignal.timeout(this.c.timeoutMs),
          });
          const text = await res.text().catch(() => '');
          if (!res.ok)
            failures.push({
              message: `POST ${url}/api/v2/alerts: HTTP ${res.status} ${text.slice(0, 200)}`.trim(),
              retriable: httpStatusRetriable(res.status),
            });
        } catch (err) {
          failures.push({ message: `POST ${url}/api/v2/alerts: ${(err as Error).message}`, retriable: true });
        }
      }),
    );
    // One Alertmanager of a pair taking it is enough: they gossip.
    if (failures.length < this.c.urls.length) return;
    throw new DeliveryError(failures.map((f) => f.message).join('; '), {
      retriable: failures.some((f) => f.retriable),
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
