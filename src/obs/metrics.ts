import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { VIGIL_VERSION } from './build-info.js';

/** A partition as the metrics see it at scrape time. */
export interface PartitionGauge {
  /** `topic:partition`. */
  readonly partition: string;
  /** Epoch ms of its last checkpoint (or of taking it). */
  readonly lastCheckpointAt: number;
  /** Records between its next offset and the end of the partition, as of its last batch. */
  readonly lag: number | undefined;
  /** Its stream time (event time), if any yet. */
  readonly streamTime?: number | undefined;
}

/** `topic:partition` as the two labels it is. */
function partitionLabels(key: string): { topic: string; partition: string } {
  const at = key.lastIndexOf(':');
  return { topic: key.slice(0, at), partition: key.slice(at + 1) };
}

/**
 * The standard process and Node.js metrics (prom-client's, under their usual names, so stock Node.js
 * dashboards find them), and `vigil_build_info`. prom-client's three gauges named `*_total`
 * (active handles, requests, resources) are left out: a gauge named as a counter is what
 * `promtool check metrics` refuses; the same figures come per type as `nodejs_active_*`.
 */
export function registerProcessMetrics(registry: Registry, version: string): void {
  collectDefaultMetrics({ register: registry });
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ])
    registry.removeSingleMetric(name);
  new Gauge({
    name: 'vigil_build_info',
    help: 'Always 1: the version of Vigil and of Node.js this process runs',
    labelNames: ['version', 'nodejs'],
    registers: [registry],
  }).set({ version, nodejs: process.version }, 1);
}

/** What the scrape-time gauges read from the node. */
export interface MetricsSources {
  partitions(): readonly PartitionGauge[];
  /** Actors on this node (sensors, buckets, partitions, fetchers). */
  actors(): number;
  /** The longest mailbox seen since the last scrape (then starts over). */
  takeLargestMailbox(): number;
}

/**
 * The Prometheus metrics of one node (prom-client), served as `GET /metrics`. Hot paths touch them
 * once per batch, or once per output through a pre-labelled child; gauges that cost something to
 * compute (checkpoint ages, actors, mailboxes) are computed at scrape time only.
 *
 * Every series carries `node`. Names follow Prometheus' conventions (`_total`, `_seconds`).
 */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly recordsIn = this.counter('vigil_records_in_total', 'Records consumed, per topic', ['topic']);
  readonly recordsOut = this.counter('vigil_records_out_total', 'Records produced, per topic', ['topic']);
  readonly eventToOutput = new Histogram({
    name: 'vigil_event_to_output_seconds',
    help: 'Wall time from the event to its output being in Kafka: an alert from the event time of the reading that caused it, a window result from the end of its window',
    labelNames: ['kind'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly checkpointDuration = new Histogram({
    name: 'vigil_checkpoint_duration_seconds',
    help: 'Barrier, snapshots and the fenced Redis step of one partition checkpoint',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly alerts = this.counter('vigil_alerts_total', 'Alerts fired and resolved, per rule', [
    'rule',
    'state',
  ]);
  readonly deadLetters = this.counter(
    'vigil_dead_letters_total',
    'Records sent to vigil.dlq, per source (engine, file, mqtt, notify)',
    ['source'],
  );
  readonly duplicates = this.counter(
    'vigil_duplicates_dropped_total',
    'Readings dropped as repeats (sent again: the same event time and values, or the same event time and seq), per topic',
    ['topic'],
  );
  readonly late = this.counter(
    'vigil_late_total',
    'Readings sent to vigil.late (every window they belong to was closed)',
    [],
  );
  readonly grpcCalls = this.counter(
    'vigil_grpc_calls_total',
    'gRPC calls served, per method and status code',
    ['method', 'code'],
  );
  readonly notifications = this.counter(
    'vigil_notifications_total',
    'Deliveries to alert sinks, per sink and outcome (delivered, retried, dead_lettered)',
    ['sink', 'outcome'],
  );
  readonly logLines = this.counter(
    'vigil_log_lines_total',
    'Log records written to vigil.logs by this node’s fetchers, per source',
    ['source'],
  );
  private sources: MetricsSources | undefined;

  constructor(nodeId: string) {
    this.registry.setDefaultLabels({ node: nodeId });
    registerProcessMetrics(this.registry, VIGIL_VERSION);
    this.scrapeGauges();
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** Gauges computed at scrape time only: they cost something to compute. */
  private scrapeGauges(): void {
    const registers = [this.registry];
    const sources = (): MetricsSources | undefined => this.sources;
    const perPartition = (
      name: string,
      help: string,
      value: (p: PartitionGauge, now: number) => number | undefined,
    ): void => {
      new Gauge({
        name,
        help,
        labelNames: ['topic', 'partition'],
        registers,
        collect() {
          this.reset();
          const now = Date.now();
          for (const p of sources()?.partitions() ?? []) {
            const v = value(p, now);
            if (v !== undefined) this.set(partitionLabels(p.partition), v);
          }
        },
      });
    };
    perPartition(
      'vigil_checkpoint_age_seconds',
      'Time since each owned partition’s last checkpoint',
      (p, now) => (now - p.lastCheckpointAt) / 1000,
    );
    perPartition(
      'vigil_consumer_lag_records',
      'Records between each owned partition’s next offset and its end, as of its last batch',
      (p) => p.lag,
    );
    perPartition(
      'vigil_event_time_lag_seconds',
      'How far each owned partition’s stream time (event time, moved by readings and clock records) is behind the wall clock',
      (p, now) => (p.streamTime === undefined ? undefined : (now - p.streamTime) / 1000),
    );
    new Gauge({
      name: 'vigil_actors',
      help: 'Actors on this node',
      registers,
      collect() {
        this.set(sources()?.actors() ?? 0);
      },
    });
    new Gauge({
      name: 'vigil_mailbox_largest_messages',
      help: 'The most messages waiting in one actor mailbox since the previous scrape',
      registers,
      collect() {
        this.set(sources()?.takeLargestMailbox() ?? 0);
      },
    });
  }

  /** Where the scrape-time gauges read from (the node, once it runs). */
  bind(sources: MetricsSources): void {
    this.sources = sources;
  }

  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
