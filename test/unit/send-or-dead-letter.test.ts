import { describe, expect, it } from 'vitest';
import { VigilError } from '../../src/core/errors.js';
import { sendOrDeadLetter } from '../../src/engine/send-or-dead-letter.js';
import type { RecordProducer, TopicMessages } from '../../src/ports/record-log.js';

/** A broker whose limit is 1,000 bytes a record: a request holding a larger one is refused whole. */
function smallBroker(): { producer: RecordProducer; landed: TopicMessages[] } {
  const landed: TopicMessages[] = [];
  const producer: RecordProducer = {
    send: (batches) => {
      const tooLarge = batches.some((b) => b.messages.some((m) => (m.value?.length ?? 0) > 1_000));
      if (tooLarge)
        return Promise.reject(new VigilError('MESSAGE_TOO_LARGE', { code: 'KAFKA_RECORD_REFUSED' }));
      landed.push(...batches);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
  return { producer, landed };
}

describe('sendOrDeadLetter', () => {
  it('sends the rest once and dead-letters the record the broker refuses, cut', async () => {
    const { producer, landed } = smallBroker();
    const batches = [
      {
        topic: 'out',
        messages: [
          { key: 'a', value: 'ok-1', headers: { 'vigil-id': 'a/1' } },
          { key: 'b', value: 'x'.repeat(5_000), headers: { 'vigil-id': 'b/1' } },
          { key: 'c', value: 'ok-2' },
        ],
      },
    ];
    expect(await sendOrDeadLetter(producer, batches, 'dlq')).toBe(1);
    const out = landed.filter((b) => b.topic === 'out').flatMap((b) => b.messages.map((m) => m.value));
    expect(out).toEqual(['ok-1', 'ok-2']);
    const dead = landed.filter((b) => b.topic === 'dlq').flatMap((b) => b.messages);
    expect(dead).toHaveLength(1);
    expect(dead[0]?.value?.length).toBe(512);
    expect(dead[0]?.headers).toMatchObject({
      'vigil-source-topic': 'out',
      'vigil-source-offset': 'b/1',
      'vigil-payload-bytes': '5000',
      'vigil-reason': 'the broker refused this record for out: MESSAGE_TOO_LARGE',
    });
  });

  it('throws what is not about a record: the caller retries what is retriable', async () => {
    const producer: RecordProducer = {
      send: () => Promise.reject(new VigilError('broker away', { code: 'KAFKA_CONNECTION' })),
      close: () => Promise.resolve(),
    };
    await expect(
      sendOrDeadLetter(producer, [{ topic: 't', messages: [{ key: 'k', value: 'v' }] }], 'dlq'),
    ).rejects.toMatchObject({
      code: 'KAFKA_CONNECTION',
      retriable: true,
    });
  });
});
