import { describe, expect, it } from 'vitest';
import { splitRequests } from '../../src/transport/kafka/record-log.js';

describe('splitRequests', () => {
  it('keeps every message, in order, in requests under the byte limit', () => {
    const messages = Array.from({ length: 1000 }, (_, i) => ({
      key: `k${i % 7}`,
      value: 'x'.repeat(100 + (i % 50)),
    }));
    const requests = splitRequests(
      [
        { topic: 'a', messages: messages.slice(0, 600) },
        { topic: 'b', messages: messages.slice(600) },
      ],
      10_000,
    );
    expect(requests.length).toBeGreaterThan(10);
    for (const r of requests) {
      const bytes = r
        .flatMap((t) => t.messages)
        .reduce((n, m) => n + 64 + String(m.key).length + String(m.value).length, 0);
      expect(bytes).toBeLessThanOrEqual(10_000);
    }
    const flat = requests.flatMap((r) => r.flatMap((t) => t.messages.map((m) => [t.topic, m.value])));
    expect(flat).toEqual(messages.map((m, i) => [i < 600 ? 'a' : 'b', m.value]));
  });

  it('sends one request for a small batch and none for nothing', () => {
    expect(splitRequests([{ topic: 'a', messages: [{ key: null, value: 'v' }] }], 1_000)).toHaveLength(1);
    expect(splitRequests([], 1_000)).toEqual([]);
  });
});
