import { standingKey, standingRank } from '../../core/notify.js';
import type { Alert } from '../../core/outputs.js';
import type { Outbox } from '../../ports/outbox.js';
import type { Sink } from './sink.js';

export type ResendingSink = Sink & { readonly resend: NonNullable<Sink['resend']> };

export function resends(sink: Sink): sink is ResendingSink {
  return sink.resend !== undefined;
}

/**
 * The alerts one resending sink keeps standing (Alertmanager), in the outbox so that every node sees
 * the same: the latest state of each rule and sensor, whichever node delivered it, ranked so that no
 * late or racing delivery undoes a later one (core/notify.ts standingRank).
 *
 *   record     before an alert is delivered: refused when a later state is recorded (the alert is
 *              stale, e.g. a firing retried after its resolve went out): it is not sent.
 *   overtaken  after a firing alert went out: a resolve recorded meanwhile (delivered by another node,
 *              perhaps before this one's post landed) is sent again, so it is the last word.
 *   resend     once per period, on one node: the firing alerts are sent again; then those resolved
 *              meanwhile are sent resolved again, for the same reason.
 *   withdraw   a firing alert the sink refused for good (dead-lettered) is not sent again.
 */
export class StandingAlerts {
  constructor(
    private readonly sink: ResendingSink,
    private readonly outbox: Outbox,
    /** Resolved states are kept this long: longer than a firing delivery is retried before it gives up. */
    private readonly keepResolvedMs: number,
  ) {}

  record(a: Alert): Promise<boolean> {
    return this.put(a, a.state === 'firing');
  }

  async withdraw(a: Alert): Promise<void> {
    if (a.state !== 'firing') return;
    const [startedAt, , ts] = standingRank(a);
    await this.outbox.putStanding(
      this.sink.id,
      standingKey(a),
      [startedAt, 1, ts],
      { alert: JSON.stringify(a), firing: false },
      Date.now(),
    );
  }

  /** The resolve recorded after firing alert `a`, if one was: to be sent after it. */
  async overtaken(a: Alert): Promise<Alert | undefined> {
    if (a.state !== 'firing' || (await this.put(a, true))) return undefined;
    const latest = (await this.read()).get(standingKey(a));
    return latest?.state === 'resolved' ? latest : undefined;
  }

  /** Sends the firing alerts again; returns how many. */
  async resend(): Promise<number> {
    const before = await this.read();
    const firing = [...before.values()].filter((a) => a.state === 'firing');
    if (firing.length === 0) return 0;
    await this.sink.resend.send(firing);
    const after = await this.read();
    const resolvedMeanwhile = firing
      .map((a) => after.get(standingKey(a)))
      .filter((a): a is Alert => a?.state === 'resolved');
    for (const a of resolvedMeanwhile) await this.sink.deliver(a);
    return firing.length;
  }

  private put(a: Alert, firing: boolean): Promise<boolean> {
    return this.outbox.putStanding(
      this.sink.id,
      standingKey(a),
      standingRank(a),
      { alert: JSON.stringify(a), firing },
      Date.now(),
    );
  }

  /** The latest state of each alert (a withdrawn one, firing but not standing, is left out). */
  private async read(): Promise<Map<string, Alert>> {
    const out = new Map<string, Alert>();
    for (const [key, { alert, firing }] of await this.outbox.standing(
      this.sink.id,
      Date.now() - this.keepResolvedMs,
    )) {
      const a = JSON.parse(alert) as Alert;
      if (firing || a.state === 'resolved') out.set(key, a);
    }
    return out;
  }
}
