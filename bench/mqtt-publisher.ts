/**
 * A load generator for the MQTT benchmarks, run as a process of its own (so that the publishing
 * client does not share a core's event loop with what it measures):
 *
 *   node --import tsx bench/mqtt-publisher.ts <url> <topic root> <count> <stations> <name>
 *
 * Publishes `count` readings of `stations` stations of its own (sensor ids prefixed with <name>) at
 * QoS 1 to <root>/<sensor>/readings, keeping a window of publishes in flight as a busy gateway would,
 * and prints {"count", "seconds"} once every one is acknowledged.
 */
import { connectAsync } from 'mqtt';
import { readings } from './lib.js';

const [url = '', root = '', countArg = '0', stationsArg = '1000', name = 'p1'] = process.argv.slice(2);
const input = readings(Number(stationsArg), Number(countArg), Date.now() - 3_600_000).map((r) => ({
  key: `${name}-${r.key}`,
  value: r.value.replace('"sensorId":"', `"sensorId":"${name}-`),
}));
const client = await connectAsync(url, { clean: true });
const WINDOW = 500;
const started = performance.now();
for (let i = 0; i < input.length; i += WINDOW) {
  await Promise.all(
    input
      .slice(i, i + WINDOW)
      .map((r) => client.publishAsync(`${root}/${r.key}/readings`, r.value, { qos: 1 })),
  );
}
const seconds = (performance.now() - started) / 1000;
await client.endAsync();
process.stdout.write(`${JSON.stringify({ count: input.length, seconds })}\n`);
