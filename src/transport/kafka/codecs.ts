import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { compress as zstdCompress, decompress as zstdDecompress, init as zstdInit } from '@bokuweb/zstd-wasm';
import kafkajs from 'kafkajs';
import { compressFrame as lz4Compress, decompressFrame as lz4Decompress } from 'lz4-napi';
import snappy from 'snappyjs';
import { UNDECODABLE_HEADER } from '../../core/router.js';

// kafkajs is CommonJS: these two are not found by Node's named-export detection, so they are read here.
const { CompressionCodecs, CompressionTypes } = kafkajs;
type CompressionTypes = kafkajs.CompressionTypes;

/**
 * Every codec Kafka has, for kafkajs (which ships gzip only, and throws KafkaJSNotImplemented on a
 * snappy, lz4 or zstd batch: the consumer stops, and every restart meets the same batch again).
 * Registered once per process (kafkajs keeps one table); Java clients, librdkafka (kcat), Kafka
 * Connect and Telegraf all write these.
 *
 *   snappy  snappyjs (pure JS); Java writes xerial-framed blocks, librdkafka raw ones: both are read
 *   lz4     lz4-napi (prebuilt native, from the npm registry): LZ4 frames, as every client writes them
 *   zstd    @bokuweb/zstd-wasm (WebAssembly); frames of unknown content size (Java's and librdkafka's)
 *           are decompressed into a buffer grown until they fit
 *   gzip    node:zlib
 *
 * Each decompressor stops at `maxBatchBytes` (limits.maxDecompressedBatchBytes), so a small batch
 * that expands without bound (a decompression bomb) cannot exhaust memory.
 *
 * A batch that cannot be decompressed at all is not fatal: the codec hands kafkajs a stand-in batch
 * of as many records as the real one, the first carrying the batch's raw bytes and the reason in the
 * `vigil-undecodable` header (a dead letter, core/router.ts), the others marked to be skipped, at
 * the batch's own offsets. The partition goes on past it. (kafkajs gives a codec the compressed
 * records only; the batch header before them, in the same fetch buffer, is where the record count
 * and offsets are read from, and it is checked field by field before anything is made of it.)
 */
export type CodecName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

interface KafkaCodec {
  readonly compress: (encoder: { buffer: Buffer }) => Promise<Buffer>;
  readonly decompress: (buffer: Buffer) => Promise<Buffer>;
}

export const KAFKA_CODECS: Readonly<Record<Exclude<CodecName, 'none'>, CompressionTypes>> = {
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** kafkajs' compression type for a codec name (none: undefined). */
export function compressionOf(name: CodecName): CompressionTypes | undefined {
  return name === 'none' ? undefined : KAFKA_CODECS[name];
}

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
let zstdReady: Promise<void> | undefined;

function codecs(maxBatchBytes: number): Record<Exclude<CodecName, 'none'>, KafkaCodec> {
  const overLimit = (): Error =>
    new Error(`the batch decompresses to over limits.maxDecompressedBatchBytes (${maxBatchBytes} bytes)`);
  return {
    gzip: {
      compress: (e) => gzipAsync(e.buffer),
      decompress: (b) =>
        gunzipAsync(b, { maxOutputLength: maxBatchBytes }).catch((err: unknown) => {
          throw (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? overLimit() : err;
        }),
    },
    snappy: {
      compress: (e) => Promise.resolve(Buffer.from(snappy.compress(e.buffer))),
      decompress: (b) => Promise.resolve(snappyDecompress(b, maxBatchBytes)),
    },
    lz4: {
      compress: (e) => lz4Compress(e.buffer),
      decompress: async (b) => {
        const out = await lz4Decompress(b);
        if (out.length > maxBatchBytes) throw overLimit();
        return out;
      },
    },
    zstd: {
      compress: async (e) => {
        await (zstdReady ??= zstdInit());
        return Buffer.from(zstdCompress(e.buffer, 3));
      },
      decompress: async (b) => {
        await (zstdReady ??= zstdInit());
        return zstdGrowing(b, maxBatchBytes);
      },
    },
  };
}

/** Raw snappy (librdkafka) or xerial's framing of snappy blocks (Java's snappy-java). */
function snappyDecompress(b: Buffer, max: number): Buffer {
  if (!(b.length >= 16 && b.subarray(0, 8).equals(XERIAL_MAGIC)))
    return Buffer.from(snappy.uncompress(b, max));
  const blocks: Buffer[] = [];
  let total = 0;
  for (let at = 16; at < b.length;) {
    if (at + 4 > b.length) throw new Error('snappy (xerial): a block length is cut short');
    const n = b.readUInt32BE(at);
    at += 4;
    if (at + n > b.length) throw new Error('snappy (xerial): a block is cut short');
    const block = Buffer.from(snappy.uncompress(b.subarray(at, at + n), max - total));
    total += block.length;
    blocks.push(block);
    at += n;
  }
  return Buffer.concat(blocks, total);
}

/**
 * zstd frames may not say their size (Java's and librdkafka's do not): the buffer grows until they
 * fit, up to `max`. A frame that says its size is decompressed into that size, then checked.
 */
function zstdGrowing(b: Buffer, max: number): Buffer {
  for (let size = Math.min(max, Math.max(1 << 20, b.length * 8)); ; size = Math.min(max, size * 2)) {
    let out: Uint8Array;
    try {
      out = zstdDecompress(b, { defaultHeapSize: size });
    } catch (err) {
      if (size < max) continue;
      throw new Error(
        `zstd: ${(err as Error).message} (within limits.maxDecompressedBatchBytes, ${max} bytes)`,
        {
          cause: err,
        },
      );
    }
    if (out.length > max)
      throw new Error(`the batch decompresses to over limits.maxDecompressedBatchBytes (${max} bytes)`);
    return Buffer.from(out.buffer, out.byteOffset, out.length);
  }
}

/**
 * Registers every codec with kafkajs (process-wide), each decompressor bounded by `maxBatchBytes`
 * and each failure turned into a stand-in batch (see the module's comment). Called again, it
 * replaces the bound.
 */
export function registerCodecs(maxBatchBytes: number): void {
  const all = codecs(maxBatchBytes);
  for (const [name, codec] of Object.entries(all) as [Exclude<CodecName, 'none'>, KafkaCodec][]) {
    const type = KAFKA_CODECS[name];
    const guarded: KafkaCodec = {
      compress: codec.compress,
      decompress: async (buffer) => {
        try {
          return await codec.decompress(buffer);
        } catch (err) {
          const standIn = standInBatch(
            buffer,
            type,
            `cannot decompress a ${name} record batch: ${(err as Error).message}`,
          );
          if (standIn === undefined) throw err;
          return standIn;
        }
      },
    };
    (CompressionCodecs as Record<number, () => KafkaCodec>)[type] = () => guarded;
  }
}

/** Bytes of a v2 record batch before its records (offset, length, ..., record count). */
const BATCH_HEADER = 61;

/**
 * The records of a stand-in for a batch whose records could not be decompressed, or undefined when
 * the bytes before `records` are not that batch's header (then the original error stands).
 */
export function standInBatch(records: Buffer, type: number, reason: string): Buffer | undefined {
  if (records.byteOffset < BATCH_HEADER) return undefined;
  const batch = Buffer.from(records.buffer, records.byteOffset - BATCH_HEADER, BATCH_HEADER + records.length);
  const length = batch.readInt32BE(8);
  const magic = batch.readInt8(16);
  const attributes = batch.readInt16BE(21);
  const lastOffsetDelta = batch.readInt32BE(23);
  const count = batch.readInt32BE(57);
  if (magic !== 2 || (attributes & 0x07) !== type || length !== batch.length - 12) return undefined;
  if (count < 1 || count - 1 > lastOffsetDelta) return undefined;
  const first = encodeRecord(0, Buffer.from(batch), { [UNDECODABLE_HEADER]: reason });
  const rest: Buffer[] = [];
  for (let i = 1; i < count; i++)
    rest.push(encodeRecord(i === count - 1 ? lastOffsetDelta : i, null, { [UNDECODABLE_HEADER]: 'skip' }));
  return Buffer.concat([first, ...rest]);
}

/** One record of a v2 batch (attributes, deltas, key, value, headers; varints zigzag-encoded). */
function encodeRecord(offsetDelta: number, value: Buffer | null, headers: Record<string, string>): Buffer {
  const body: Buffer[] = [Buffer.from([0]), varint(0), varint(offsetDelta), varint(-1)];
  if (value === null) body.push(varint(-1));
  else body.push(varint(value.length), value);
  const entries = Object.entries(headers);
  body.push(varint(entries.length));
  for (const [k, v] of entries) {
    const key = Buffer.from(k);
    const val = Buffer.from(v);
    body.push(varint(key.length), key, varint(val.length), val);
  }
  const rest = Buffer.concat(body);
  return Buffer.concat([varint(rest.length), rest]);
}

function varint(n: number): Buffer {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  const bytes: number[] = [];
  while (z >= 0x80) {
    bytes.push((z & 0x7f) | 0x80);
    z = Math.floor(z / 128);
  }
  bytes.push(z);
  return Buffer.from(bytes);
}
