/**
 * Memory under a backlog: the whole input is in Kafka before the node starts (a producer faster than
 * the engine), and the node's resident memory is sampled while it works through it. With backpressure
 * and a fixed sensor population, memory should level off, not grow with the backlog.
 *
 *   npm run bench:backlog -- [readings=300000] [stations=1000]   (needs the stack and a build: see README)
 */
import { readFileSync } from 'node:fs';
import { acceptanceInput } from '../test/support/acceptance.js';
import { acceptanceRawConfig, prepareKafka } from '../test/support/kafka-run.js';
import { exited, progress, startNodeProcess, writeConfig } from '../test/support/node-process.js';

const readings = Number(process.argv[2] ?? 300_000);
const stations = Number(process.argv[3] ?? 1_000);
const raw = acceptanceRawConfig('bench-backlog');
const input = acceptanceInput(stations, readings, 9);
process.stderr.write(`producing ${input.length} readings of ${stations} stations...\n`);
const { config, kafka } = await prepareKafka(raw, input);

const node = startNodeProcess('bench-backlog', writeConfig('bench-backlog', raw));
const rssMiB = (): number => {
  const status = readFileSync(`/proc/${String(node.pid)}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
};
const started = Date.now();
process.stdout.write('elapsed_s  processed  rss_mib\n');
for (;;) {
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const p = await progress(kafka, config.kafka.groupId, config.kafka.topics.readings);
  process.stdout.write(
    `${((Date.now() - started) / 1000).toFixed(0).padStart(9)}  ${String(p.committed).padStart(9)}  ${rssMiB().toFixed(0).padStart(7)}\n`,
  );
  if (p.committed >= p.end) break;
}
const seconds = (Date.now() - started) / 1000;
process.stdout.write(
  `${input.length} readings in ${seconds.toFixed(1)} s: ${(input.length / seconds).toFixed(0)} readings/s end to end, 1 node\n`,
);
node.kill('SIGTERM');
await exited(node);
