#!/usr/bin/env node
import { randomUUID } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfigFile, TOPIC_NAMES, type VigilConfig } from '../config/load.js';
import { parseDuration } from '../core/duration.js';
import type { Alert, WindowResult } from '../core/outputs.js';
import { VigilError } from '../errors.js';
import { VigilNode } from '../engine/node.js';
import { createLogger, type Logger } from '../log.js';
import { CitySimulator } from '../sim/city.js';
import { publishReadings } from '../sim/publisher.js';
import { createKafka } from '../transport/kafka/client.js';
import { ensureTopics } from '../transport/kafka/topics.js';
import { formatAlert, formatWindowResult, writeLine } from './output.js';

/** Exit codes: 0 done, 1 runtime failure, 2 bad usage or configuration. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const DEFAULT_CONFIG = new URL('../../config/vigil.yaml', import.meta.url).pathname;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('must be a whole number above 0');
  return n;
}

function durationOption(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError('must be a duration such as 30s, 5m or 1h');
  return ms;
}

interface CommonOptions {
  readonly config: string;
}

function setup(options: CommonOptions): { config: VigilConfig; logger: Logger } {
  const config = loadConfigFile(options.config);
  return { config, logger: createLogger(config.logLevel, { nodeId: config.nodeId }) };
}

/** Calls `handler` on the first SIGINT or SIGTERM; the returned function removes the listeners. */
function onFirstSignal(handler: (signal: NodeJS.Signals) => void): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    dispose();
    handler(signal);
  };
  const dispose = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return dispose;
}

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => onFirstSignal(resolve));
}

const program = new Command('vigil')
  .description('Vigil: an actor-model stream processor for sensor and log streams')
  .option('-c, --config <file>', 'YAML configuration file', DEFAULT_CONFIG)
  .showHelpAfterError();

program
  .command('node')
  .description('run a processing node: consume vigil.readings, emit window results and alerts')
  .action(async () => {
    const { config, logger } = setup(program.opts<CommonOptions>());
    const node = new VigilNode(config, logger);
    await node.start();
    const signal = await untilSignal();
    logger.info({ signal }, 'stopping');
    await node.stop();
  });

program
  .command('topics')
  .description("create Vigil's topics that do not exist yet, with the configured partition counts")
  .action(async () => {
    const { config, logger } = setup(program.opts<CommonOptions>());
    const kafka = createKafka(config.kafka, logger);
    const created = await ensureTopics(
      kafka,
      TOPIC_NAMES.map((role) => ({
        topic: config.kafka.topics[role],
        numPartitions: config.kafka.partitions[role],
      })),
      logger,
    );
    writeLine(created.length === 0 ? 'all topics exist' : `created: ${created.join(', ')}`);
  });

program
  .command('simulate')
  .description("publish a city's station readings to vigil.readings at a steady rate")
  .option('--sensors <n>', 'number of stations', positiveInt, 100)
  .option('--rate <n>', 'readings per second', positiveInt, 1000)
  .option('--duration <d>', 'how long to run (e.g. 30s); default until Ctrl-C', durationOption)
  .option('--count <n>', 'stop after this many readings', positiveInt)
  .option('--seed <n>', 'random seed (same seed, same values)', positiveInt, 1)
  .action(
    async (opts: { sensors: number; rate: number; duration?: number; count?: number; seed: number }) => {
      const { config, logger } = setup(program.opts<CommonOptions>());
      const kafka = createKafka(config.kafka, logger);
      const sim = new CitySimulator({ stations: opts.sensors, seed: opts.seed });
      const abort = new AbortController();
      const dispose = onFirstSignal(() => {
        abort.abort();
      });
      process.stderr.write(
        `simulating ${opts.sensors} stations at ${opts.rate} readings/s into ${config.kafka.topics.readings}\n`,
      );
      const sent = await publishReadings(
        kafka,
        (ts) => sim.next(ts),
        {
          topic: config.kafka.topics.readings,
          rate: opts.rate,
          signal: abort.signal,
          ...(opts.duration === undefined ? {} : { durationMs: opts.duration }),
          ...(opts.count === undefined ? {} : { count: opts.count }),
          onProgress: (n, ms) => process.stderr.write(`  ${n} readings sent in ${(ms / 1000).toFixed(0)}s\n`),
        },
        logger,
      ).finally(dispose);
      process.stderr.write(`done: ${sent} readings sent\n`);
    },
  );

program
  .command('tail')
  .description('print what Vigil produces as it arrives: alerts (default) or aggregates')
  .argument('[what]', 'alerts | aggregates', 'alerts')
  .option('--from-beginning', 'start at the oldest record instead of new ones')
  .option('--json', 'print the raw JSON records')
  .action(async (what: string, opts: { fromBeginning?: boolean; json?: boolean }) => {
    if (what !== 'alerts' && what !== 'aggregates')
      throw new VigilError(`unknown stream "${what}": use alerts or aggregates`, { code: 'USAGE' });
    const { config, logger } = setup(program.opts<CommonOptions>());
    const kafka = createKafka(config.kafka, logger);
    const consumer = kafka.consumer({ groupId: `vigil-tail-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({
      topic: config.kafka.topics[what],
      fromBeginning: opts.fromBeginning === true,
    });
    await consumer.run({
      eachMessage: ({ message }) => {
        const text = message.value?.toString('utf8') ?? '';
        if (opts.json === true) writeLine(text);
        else
          writeLine(
            what === 'alerts'
              ? formatAlert(JSON.parse(text) as Alert)
              : formatWindowResult(JSON.parse(text) as WindowResult),
          );
        return Promise.resolve();
      },
    });
    await untilSignal();
    await consumer.disconnect();
  });

// A reader that goes away (`vigil tail | head`) is the normal end of a pipe, as SIGPIPE is for C tools.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

program.parseAsync().catch((err: unknown) => {
  const usage = err instanceof VigilError && (err.code === 'CONFIG_INVALID' || err.code === 'USAGE');
  process.stderr.write(`vigil: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = usage ? EXIT_USAGE : EXIT_FAILURE;
});
