import { describe, expect, it } from 'vitest';
import type { SourceWriter } from '../../src/ports/source-writer.js';

export interface SourceLogUnderTest {
  /** A fresh topic (3 partitions) and a second one for dead letters. */
  topics(): Promise<{ logs: string; dlq: string }>;
  /** A SourceWriter for `source` (the same source id means the same transactional identity). */
  sourceLog(source: string): SourceWriter;
  /** Committed values of a topic, read until `until` holds for them. */
  read(topic: string, until: (values: readonly string[]) => boolean): Promise<string[]>;
}

const lines = (source: string, from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ key: source, value: `${source}-${from + i}` }));

/** What every SourceWriter must do: the same suite runs against the in-memory log and Kafka. */
export function sourceLogContract(
  name: string,
  create: () => SourceLogUnderTest,
  /** Whether an earlier writer of the same source is shut out by a later open() (one process has none). */
  options: { readonly fences: boolean },
): void {
  describe(`SourceWriter contract: ${name}`, () => {
    it('a write is all or nothing, and committed() tells which it was', async () => {
      const h = create();
      const { logs, dlq } = await h.topics();
      const log = h.sourceLog(`src-${Date.now()}`);
      await log.open();
      const placements: { txn: string; at: Parameters<SourceWriter['committed']>[1] }[] = [];
      await log.write(
        't1',
        logs,
        [
          { topic: logs, messages: lines('a', 0, 3) },
          { topic: dlq, messages: lines('a', 100, 1) },
        ],
        (at) => {
          placements.push({ txn: 't1', at });
          return Promise.resolve();
        },
      );
      await expect(
        log.write('t2', logs, [{ topic: logs, messages: lines('a', 3, 2) }], (at) => {
          placements.push({ txn: 't2', at });
          return Promise.reject(new Error('the checkpoint could not be written'));
        }),
      ).rejects.toThrow('the checkpoint could not be written');
      await log.write('t3', logs, [{ topic: logs, messages: lines('a', 5, 1) }], () => Promise.resolve());
      const seen = await h.read(logs, (v) => v.includes('a-5'));
      expect(seen).toEqual(['a-0', 'a-1', 'a-2', 'a-5']);
      expect(await h.read(dlq, (v) => v.length >= 1)).toEqual(['a-100']);
      const [t1, t2] = placements;
      if (t1 === undefined || t2 === undefined) throw new Error('beforeCommit was not called');
      expect(t1.at.topic).toBe(logs);
      expect(await log.committed('t1', t1.at, 'a')).toBe(true);
      expect(await log.committed('t2', t2.at, 'a')).toBe(false);
      await log.close();
    });

    if (!options.fences) return;
    it('opening a source again shuts its earlier writer out', async () => {
      const h = create();
      const { logs } = await h.topics();
      const source = `src-${Date.now()}`;
      const old = h.sourceLog(source);
      await old.open();
      await old.write('o1', logs, [{ topic: logs, messages: lines('b', 0, 1) }], () => Promise.resolve());
      const next = h.sourceLog(source);
      await next.open();
      await expect(
        old.write('o2', logs, [{ topic: logs, messages: lines('b', 1, 1) }], () => Promise.resolve()),
      ).rejects.toThrow();
      await next.write('n1', logs, [{ topic: logs, messages: lines('b', 2, 1) }], () => Promise.resolve());
      expect(await h.read(logs, (v) => v.includes('b-2'))).toEqual(['b-0', 'b-2']);
      await old.close().catch(() => undefined);
      await next.close();
    });
  });
}
