import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/core/partitioner.js';

describe('partitionForKey', () => {
  it("matches kafkajs' DefaultPartitioner (Java-compatible murmur2) for every key length", () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    for (const partitions of [1, 3, 6, 7, 100]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
        partitionId: i,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [0],
        isr: [0],
      }));
      for (const key of [
        '',
        'a',
        'ab',
        'abc',
        'abcd',
        'st-0001',
        'st-0999',
        'sensor/ü/日本',
        'x'.repeat(37),
      ]) {
        const expected = kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } });
        expect(partitionForKey(key, partitions), `${key} over ${partitions}`).toBe(expected);
      }
    }
  });
});
