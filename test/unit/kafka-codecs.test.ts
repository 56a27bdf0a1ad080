import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { UNDECODABLE_HEADER } from '../../src/core/router.js';
import { KAFKA_CODECS, registerCodecs, type CodecName } from '../../src/transport/kafka/codecs.js';

// kafkajs' own record batch encoder and decoder: the stand-in must be what kafkajs itself reads.
const require = createRequire(import.meta.url);
interface Encoded {
  buffer: Buffer;
}
interface DecodedRecord {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (o: Record<string, unknown>) => Promise<Encoded>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (
  o: Record<string, unknown>,
) => Encoded;
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  d: unknown,
) => Promise<{ records: DecodedRecord[]; lastOffsetDelta: number }>;
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => {
  readVarIntBytes(): Buffer;
  canReadBytes(n: number): boolean;
  offset: number;
};
const decodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/decoder') as (
  d: unknown,
  ctx: Record<string, unknown>,
) => DecodedRecord;

const LIMIT = 4 * 1024 * 1024;
registerCodecs(LIMIT);
function codec(name: Exclude<CodecName, 'none'>): { decompress: (b: Buffer) => Promise<Buffer> } {
  type Made = () => { decompress: (b: Buffer) => Promise<Buffer> };
  const made = (CompressionCodecs as Partial<Record<number, Made>>)[KAFKA_CODECS[name]];
  if (made === undefined) throw new Error(`no ${name} codec registered`);
  return made();
}

/** The values of the records in decompressed batch bytes, in order. */
function values(bytes: Buffer): string[] {
  const d = new Decoder(bytes);
  const out: string[] = [];
  while (d.offset < bytes.length) {
    const record = decodeRecord(new Decoder(d.readVarIntBytes()), { firstOffset: '0', firstTimestamp: '0' });
    out.push(record.value?.toString('utf8') ?? '');
  }
  return out;
}

async function batch(compression: number, n: number, value: (i: number) => string): Promise<Buffer> {
  const records = Array.from({ length: n }, (_, i) =>
    Record({ offsetDelta: i, key: Buffer.from(`k${i}`), value: Buffer.from(value(i)) }),
  );
  return (await RecordBatch({ compression, firstOffset: 1_000n.toString(), lastOffsetDelta: n - 1, records }))
    .buffer;
}

const decode = (bytes: Buffer) => decodeBatch(new Decoder(bytes));

describe('Kafka codecs', () => {
  it.each(['kcat', 'java'])('read what %s wrote with each codec (golden fixtures)', async (client) => {
    for (const name of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
      const raw = readFileSync(new URL(`../fixtures/kafka/${client}-${name}.records`, import.meta.url));
      const lines = values(await codec(name).decompress(raw));
      expect(lines.length, `${client} ${name}`).toBeGreaterThan(100);
      lines.forEach((line, i) => {
        expect(JSON.parse(line)).toEqual({
          sensorId: `st-${(i + 1) % 7}`,
          ts: 1_700_000_000_000 + (i + 1) * 1000,
          values: { t: i + 1.5 },
        });
      });
    }
  });

  it('compress and decompress what they compressed, through kafkajs record batches', async () => {
    for (const name of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
      const bytes = await batch(
        KAFKA_CODECS[name],
        500,
        (i) => `{"sensorId":"s-${i % 9}","ts":${i},"values":{"v":${i}}}`,
      );
      const { records } = await decode(bytes);
      expect(
        records.map((r) => r.value?.toString()),
        name,
      ).toEqual(
        Array.from({ length: 500 }, (_, i) => `{"sensorId":"s-${i % 9}","ts":${i},"values":{"v":${i}}}`),
      );
    }
  });

  it('turn a batch that cannot be decompressed into a dead letter of its raw bytes, at its own offsets', async () => {
    const bytes = await batch(CompressionTypes.LZ4, 40, (i) => `reading ${i}`);
    // Damage the compressed records (the broker checks batches it takes; this stands for a codec
    // fault, a bug, or a disk): what follows the 61-byte batch header and the 4-byte frame magic.
    for (let i = 61 + 8; i < bytes.length; i += 3) bytes[i] = (bytes[i] ?? 0) ^ 0x5a;
    const { records } = await decode(bytes);
    expect(records).toHaveLength(40);
    const [first, ...rest] = records;
    expect(first?.offset).toBe('1000');
    expect(first?.headers[UNDECODABLE_HEADER]?.toString()).toMatch(/^cannot decompress a lz4 record batch: /);
    expect(first?.value?.equals(bytes)).toBe(true); // the whole batch, as it came
    expect(rest.every((r) => r.headers[UNDECODABLE_HEADER]?.toString() === 'skip')).toBe(true);
    expect(records.at(-1)?.offset).toBe('1039'); // the position moves past the batch
  });

  it('stop at limits.maxDecompressedBatchBytes: a decompression bomb is a dead letter', async () => {
    for (const name of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
      const huge = 'x'.repeat(LIMIT + 1_000);
      const { records } = await decode(await batch(KAFKA_CODECS[name], 2, () => huge));
      expect(records[0]?.headers[UNDECODABLE_HEADER]?.toString(), name).toMatch(
        /maxDecompressedBatchBytes|too big|exceed/,
      );
      expect(records[0]?.value?.length, name).toBeLessThan(LIMIT / 10);
    }
  });
});
