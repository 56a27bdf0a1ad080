/**
 * Kafka's default partitioner (murmur2 of the key, positive, modulo the partition count), the same as
 * the Java client's and kafkajs' DefaultPartitioner: any node can compute which partition, and so
 * which owner, a sensor id belongs to.
 */
export function murmur2(key: Buffer): number {
  const m = 0x5bd1e995;
  const r = 24;
  const length = key.length;
  let h = (0x9747b28c ^ length) | 0;
  const tail = length & ~3;
  for (let i = 0; i < tail; i += 4) {
    let k =
      (key[i] as number) |
      ((key[i + 1] as number) << 8) |
      ((key[i + 2] as number) << 16) |
      ((key[i + 3] as number) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= (key[tail + 2] as number) << 16;
  if (rest >= 2) h ^= (key[tail + 1] as number) << 8;
  if (rest >= 1) {
    h ^= key[tail] as number;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}

export function partitionForKey(key: string | Buffer, partitions: number): number {
  return (murmur2(typeof key === 'string' ? Buffer.from(key) : key) & 0x7fffffff) % partitions;
}
