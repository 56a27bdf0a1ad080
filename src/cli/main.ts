#!/usr/bin/env -S node --max-semi-space-size=16
// The young generation is bounded as Node.js 20 bounds it by default (16 MB semi-spaces): Node.js 22+
// sizes it from the heap limit (up to 64 MB here), which more than doubled a node's peak RSS under a
// flood of short-lived objects (README, "Runtime"). cluster/lib/common.sh and the tests' node-process.ts
// start nodes with the same flag.
import { randomUUID } from 'node:crypto';
import { Command, CommanderError } from 'commander';
import { loadConfigFile, type VigilConfig } from '../config/load.js';
import type { Alert, WindowResult } from '../core/outputs.js';
import { VigilError } from '../core/errors.js';
import { startEmbedded } from '../node/node.js';
import { VIGIL_VERSION } from '../obs/build-info.js';
import { createLogger, type Logger } from '../obs/logger.js';
import { publish } from '../sim/publisher.js';
import { createKafka } from '../transport/kafka/client.js';
import { KafkaRecordProducer } from '../transport/kafka/record-log.js';
import { ensureTopics, vigilTopics } from '../transport/kafka/topics.js';
import { addAlertsCommand } from './alerts-command.js';
import { runLogGen, type LogGenCommandOptions } from './loggen-command.js';
import { addClusterCommands } from './cluster-commands.js';
import { addConfigCommands } from './config-command.js';
import { exitCodeOf } from './grpc-client.js';
import { formatAlert, formatWindowResult, writeLine } from './output.js';
import { runNode } from './node-command.js';
import { runBridge } from './bridge-command.js';
import { onFirstSignal, untilSignal } from './process.js';
import {
  durationOption,
  positiveInt,
  ratio,
  simulation,
  simulationOptions,
  type SimulateOptions,
} from './sim-options.js';
import { scoreAlerts, SHIPPED_RULES } from '../sim/score.js';

/** Exit codes: 0 done, 1 runtime failure, 2 bad usage or configuration. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const DEFAULT_CONFIG = new URL('../../config/vigil.yaml', import.meta.url).pathname;

interface CommonOptions {
  readonly config: string;
}

function setup(
  options: CommonOptions,
  env: NodeJS.ProcessEnv = process.env,
): { config: VigilConfig; logger: Logger } {
  const config = loadConfigFile(options.config, env);
  return {
    config,
    logger: createLogger(config.logLevel, { nodeId: config.nodeId }, config.logComponents),
  };
}

const program = new Command('vigil')
  .description('Vigil: an actor-model stream processor for sensor and log streams')
  .version(VIGIL_VERSION, '-V, --version', 'print the version')
  .option('-c, --config <file>', 'YAML configuration file', DEFAULT_CONFIG)
  .showHelpAfterError()
  // Usage errors are thrown (and exit 2 below) instead of exiting 1 inside commander; the
  // subcommands defined after this inherit it.
  .exitOverride();

program
  .command('node')
  .description('run a processing node: consume vigil.readings, emit window results and alerts')
  .action(async () => {
    const { config, logger } = setup(program.opts<CommonOptions>());
    await runNode(config, logger);
  });

program
  .command('topics')
  .description("create Vigil's topics that do not exist yet, with the configured partition counts")
  .action(async () => {
    const { config, logger } = setup(program.opts<CommonOptions>());
    const kafka = createKafka(config.kafka, logger);
    const created = await ensureTopics(kafka, vigilTopics(config.kafka, config.limits), logger);
    writeLine(created.length === 0 ? 'all topics exist' : `created: ${created.join(', ')}`);
  });

program
  .command('bridge')
  .description(
    'MQTT -> Kafka: subscribe to mqtt.topics (QoS 1, shared by every bridge of mqtt.shareGroup) and produce readings to vigil.readings, bad ones to vigil.dlq; a message is acknowledged once Kafka holds it',
  )
  .action(async () => {
    const { config, logger } = setup(program.opts<CommonOptions>());
    await runBridge(config, logger);
  });

simulationOptions(program.command('simulate'), { sensors: 100, rate: 1000 })
  .description("publish a city's station readings to vigil.readings at a steady rate")
  .action(async (opts: SimulateOptions) => {
    const { config, logger } = setup(program.opts<CommonOptions>());
    const producer = new KafkaRecordProducer(createKafka(config.kafka, logger), {
      compression: config.kafka.compression,
    });
    const sim = simulation(opts, (line) => process.stderr.write(`${line}\n`));
    const abort = new AbortController();
    const dispose = onFirstSignal(() => {
      abort.abort();
    });
    process.stderr.write(
      `simulating ${opts.sensors} stations at ${opts.rate} readings/s into ${config.kafka.topics.readings}\n`,
    );
    try {
      const sent = await publish(producer, () => sim.next(), {
        topic: config.kafka.topics.readings,
        rate: opts.rate,
        signal: abort.signal,
        ...(opts.duration === undefined ? {} : { durationMs: opts.duration }),
        ...(opts.count === undefined ? {} : { count: opts.count }),
        onProgress: (n, ms) => process.stderr.write(`  ${n} readings sent in ${(ms / 1000).toFixed(0)}s\n`),
      });
      process.stderr.write(`done: ${sent} readings sent\n`);
    } finally {
      dispose();
      await producer.close();
    }
  });

simulationOptions(program.command('demo'), { sensors: 200, rate: 2000 })
  .description(
    'embedded mode: simulator and engine in this process, no Kafka or Redis; prints alerts as they fire',
  )
  .action(async (opts: SimulateOptions) => {
    const { config } = setup(program.opts<CommonOptions>(), {
      ...process.env,
      VIGIL_LOG_LEVEL: process.env['VIGIL_LOG_LEVEL'] ?? 'warn',
    });
    const logger = createLogger(config.logLevel, { nodeId: 'demo' });
    const node = await startEmbedded(
      { ...config, checkpoint: { ...config.checkpoint, store: 'memory' } },
      logger,
    );
    const alerts = node.records.consumer('demo-alerts');
    const seen: Alert[] = [];
    await alerts.start([config.kafka.topics.alerts], {
      onAssignment: () => undefined,
      onFatal: () => undefined,
      onBatch: (batch) => {
        for (const r of batch.records) {
          const alert = JSON.parse(r.value?.toString() ?? '{}') as Alert;
          seen.push(alert);
          writeLine(formatAlert(alert));
        }
        return Promise.resolve();
      },
    });
    const sim = simulation(
      {
        ...opts,
        duplicates: opts.duplicates || 0.01,
        outOfOrder: opts.outOfOrder || 0.02,
        late: opts.late || 0.001,
        malformed: opts.malformed || 0.001,
      },
      (line) => process.stderr.write(`${line}\n`),
    );
    const abort = new AbortController();
    const dispose = onFirstSignal(() => {
      abort.abort();
    });
    process.stderr.write(
      `demo: ${opts.sensors} stations at ${opts.rate} readings/s, embedded engine (no Kafka, no Redis); Ctrl-C stops\n`,
    );
    try {
      await publish(node.records.producer(), () => sim.next(), {
        topic: config.kafka.topics.readings,
        rate: opts.rate,
        signal: abort.signal,
        durationMs: opts.duration ?? 30_000,
        ...(opts.count === undefined ? {} : { count: opts.count }),
      });
    } finally {
      dispose();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await alerts.stop();
      await node.stop();
    }
    const s = node.engine.stats;
    process.stderr.write(
      `demo done: ${s.records} records, ${s.windowResults} window results, ${s.alerts} alerts, ${s.late} late, ${s.deadLetters} dead letters, ${s.duplicates} duplicates dropped\n`,
    );
    const score = scoreAlerts(sim.incidents, seen, SHIPPED_RULES, { until: sim.stream.clock });
    process.stderr.write(
      `alerts against the incidents played: ${score.matching} of ${score.firing} firing alerts about an incident; ` +
        (score.cases === 0
          ? 'no incident ended within the run (run longer: --duration 3m)\n'
          : `${score.alerted} of ${score.cases} stations of the incidents that ended were alerted\n`),
    );
  });

program
  .command('tail')
  .description('print what Vigil produces as it arrives: alerts (default) or aggregates')
  .argument('[what]', 'alerts | aggregates', 'alerts')
  .option('--from-beginning', 'start at the oldest record instead of new ones')
  .option('--json', 'print the raw JSON records')
  .action(async (what: string, opts: { fromBeginning?: boolean; json?: boolean }) => {
    if (what !== 'alerts' && what !== 'aggregates') {
      throw new VigilError(`unknown stream "${what}": use alerts or aggregates`, { code: 'USAGE' });
    }
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
        else if (what === 'alerts') writeLine(formatAlert(JSON.parse(text) as Alert));
        else writeLine(formatWindowResult(JSON.parse(text) as WindowResult));
        return Promise.resolve();
      },
    });
    await untilSignal();
    await consumer.disconnect();
  });

program
  .command('loggen')
  .description(
    'write logback-format log lines into a directory at a steady rate (a log source for the fetchers), with rotation',
  )
  .requiredOption('--dir <dir>', 'directory to write into (created if missing)')
  .option('--file <name>', 'file name', 'app.log')
  .option('--rate <n>', 'lines per second', positiveInt, 50)
  .option('--error-ratio <ratio>', 'share of ERROR lines', ratio, 0.02)
  .option('--stack-traces <ratio>', 'share of ERROR lines followed by a stack trace', ratio, 0.2)
  .option('--duration <d>', 'how long to run (e.g. 30s); default until Ctrl-C', durationOption)
  .option('--count <n>', 'stop after this many lines', positiveInt)
  .option('--rotate-every <n>', 'rename the file to <file>.1 and start a new one every n lines', positiveInt)
  .option('--keep <n>', 'rotated files kept', positiveInt, 5)
  .option(
    '--truncate-every <n>',
    'empty the file in place every n lines (copytruncate: lines not read by then are lost, as with logrotate)',
    positiveInt,
  )
  .option('--seed <n>', 'random seed', positiveInt, 1)
  .option('--run <tag>', 'tag in every line id (id=<tag>-<n>)', randomUUID().slice(0, 8))
  .action(async (opts: LogGenCommandOptions) => {
    await runLogGen(opts, (line) => process.stderr.write(`${line}\n`));
  });

addClusterCommands(program);
addAlertsCommand(program);
addConfigCommands(program, () => program.opts<CommonOptions>().config);

// A reader that goes away (`vigil tail | head`) is the normal end of a pipe, as SIGPIPE is for C tools.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

program.parseAsync().catch((err: unknown) => {
  // Commander has printed what was wrong (or the help, or the version: exit 0 then).
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
    return;
  }
  const usage = err instanceof VigilError && (err.code === 'CONFIG_INVALID' || err.code === 'USAGE');
  process.stderr.write(`vigil: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = exitCodeOf(err) ?? (usage ? EXIT_USAGE : EXIT_FAILURE);
});
