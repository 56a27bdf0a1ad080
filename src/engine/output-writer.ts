import type { TopicRole } from '../config/load.js';
import type { DeadLetter, OutputBuffer, RecordSource } from '../core/outputs.js';
import type { Reading } from '../core/reading.js';
import { deadLetterMessage, sourceHeaders } from '../core/dead-letter.js';
import { sendOrDeadLetter } from './send-or-dead-letter.js';
import type { OutgoingRecord, RecordProducer, TopicMessages } from '../ports/record-log.js';
import type { NodeMetrics } from '../obs/metrics.js';

/**
 * Ships what a batch produced, in ONE produce request, before the batch counts as done. Every record
 * carries a `vigil-id` header with its deterministic id, so a consumer can drop the repeats a replay
 * after a crash produces.
 *
 * Encodings (keyed by sensor id, so one sensor's outputs stay ordered in one partition):
 *   vigil.aggregates  JSON WindowResult
 *   vigil.alerts      JSON Alert
 *   vigil.late        JSON Reading; headers vigil-reason, vigil-watermark, vigil-source-*
 *   vigil.dlq         the ORIGINAL key and bytes (cut at limits.deadLetterPayloadBytes); headers
 *                     vigil-reason, vigil-source-topic, vigil-source-partition, vigil-source-offset
 *                     (as Kafka Connect's DLQ does)
 *   the stream's topic  readings forwarded to their sensor's own partition (core/router.ts)
 */
export class OutputWriter {
  constructor(
    private readonly producer: RecordProducer,
    private readonly topics: Readonly<Record<TopicRole, string>>,
    private readonly enabled: { readonly aggregates: boolean; readonly alerts: boolean },
    private readonly deadLetterBytes: number,
    private readonly metrics?: NodeMetrics,
  ) {}

  async send(
    out: OutputBuffer,
    deadLetters: readonly DeadLetter[],
    sourceOf: (reading: Reading) => RecordSource,
    forwards?: { readonly topic: string; readonly records: readonly OutgoingRecord[] },
  ): Promise<void> {
    const batches: TopicMessages[] = [];
    if (forwards !== undefined && forwards.records.length > 0)
      batches.push({ topic: forwards.topic, messages: forwards.records });
    const add = (topic: string, messages: OutgoingRecord[]): void => {
      if (messages.length > 0) batches.push({ topic, messages });
    };
    if (this.enabled.aggregates) {
      add(
        this.topics.aggregates,
        out.windowResults.map((r) => ({
          key: r.sensorId,
          value: JSON.stringify(r),
          headers: { 'vigil-id': r.id },
        })),
      );
    }
    if (this.enabled.alerts) {
      add(
        this.topics.alerts,
        out.alerts.map((a) => ({
          key: a.sensorId,
          value: JSON.stringify(a),
          headers: { 'vigil-id': a.id, 'vigil-alert-id': a.id },
        })),
      );
    }
    add(
      this.topics.late,
      out.late.map((l) => {
        const source = sourceOf(l.reading);
        return {
          key: l.reading.sensorId,
          value: JSON.stringify(l.reading),
          headers: {
            ...sourceHeaders(source),
            'vigil-reason': l.reason,
            'vigil-watermark': String(l.watermark),
          },
        };
      }),
    );
    const refusals: DeadLetter[] = out.refused.map((r) => ({
      source: sourceOf(r.reading),
      key: Buffer.from(r.reading.sensorId),
      payload: Buffer.from(JSON.stringify(r.reading)),
      reason: r.reason,
    }));
    add(
      this.topics.dlq,
      [...deadLetters, ...refusals].map((d) => deadLetterMessage(d, this.deadLetterBytes)),
    );
    const refused = await sendOrDeadLetter(this.producer, batches, this.topics.dlq);
    if (refused > 0) this.metrics?.deadLetters.inc({ source: 'refused' }, refused);
    if (this.metrics !== undefined) this.observe(this.metrics, batches, out);
  }

  /** Records out per topic, and how long after their event each output reached Kafka. */
  private observe(m: NodeMetrics, batches: readonly TopicMessages[], out: OutputBuffer): void {
    for (const b of batches) m.recordsOut.inc({ topic: b.topic }, b.messages.length);
    const now = Date.now();
    if (this.enabled.alerts && out.alerts.length > 0) {
      const alerts = m.eventToOutput.labels({ kind: 'alert' });
      for (const a of out.alerts) alerts.observe((now - a.ts) / 1000);
    }
    if (this.enabled.aggregates && out.windowResults.length > 0) {
      const windows = m.eventToOutput.labels({ kind: 'window' });
      for (const r of out.windowResults) windows.observe((now - r.end) / 1000);
    }
  }
}
