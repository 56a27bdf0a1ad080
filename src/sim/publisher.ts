import type { OutgoingRecord, RecordProducer } from '../ports/record-log.js';

export interface PublishOptions {
  readonly topic: string;
  /** Records per second (wall clock). */
  readonly rate: number;
  /** Stop after this many records (undefined: run until `durationMs` or the signal). */
  readonly count?: number;
  readonly durationMs?: number;
  readonly signal?: AbortSignal;
  /** Called about once a second with the running total. */
  readonly onProgress?: (sent: number, elapsedMs: number) => void;
}

const TICK_MS = 50;
const MAX_BATCH = 5_000;

/**
 * Publishes generated records at a steady rate: every tick it sends, in batches, as many records as
 * the rate says should have gone out by now (a slow send is caught up, not dropped).
 */
export async function publish(
  producer: RecordProducer,
  generate: () => OutgoingRecord,
  options: PublishOptions,
): Promise<number> {
  const started = Date.now();
  let sent = 0;
  let lastProgress = started;
  for (;;) {
    const now = Date.now();
    const elapsed = now - started;
    if (options.signal?.aborted === true) break;
    if (options.durationMs !== undefined && elapsed >= options.durationMs) break;
    if (options.count !== undefined && sent >= options.count) break;
    let due = Math.floor((elapsed / 1000) * options.rate) - sent;
    if (options.count !== undefined) due = Math.min(due, options.count - sent);
    while (due > 0) {
      const n = Math.min(due, MAX_BATCH);
      const messages = new Array<OutgoingRecord>(n);
      for (let i = 0; i < n; i++) messages[i] = generate();
      await producer.send([{ topic: options.topic, messages }]);
      sent += n;
      due -= n;
    }
    if (now - lastProgress >= 1000) {
      lastProgress = now;
      options.onProgress?.(sent, elapsed);
    }
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
  return sent;
}
