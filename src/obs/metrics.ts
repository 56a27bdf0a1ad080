import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** A partition as the metrics see it at scrape time. */
export interface PartitionGauge {
  readonly partition: string;
  /** Epoch ms of its last checkpoint (or of taking it). */
  readonly lastCheckpointAt: number;
  /** Records between its next offset and the end of the partition, as of its last batch. */
  readonly lag: number | undefined;
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
  readonly recordsIn: Counter<'topic'>;
  readonly recordsOut: Counter<'topic'>;
  readonly eventToOutput: Histogram<'kind'>;
  readonly checkpointDuration: Histogram;
  readonly alerts: Counter<'rule' | 'state'>;
  readonly deadLetters: Counter<'source'>;
  readonly late: Counter;
  readonly grpcCalls: Counter<'method' | 'code'>;
  readonly notifications: Counter<'sink' | 'outcome'>;
  readonly logLines: Counter<'source'>;
  private sources: MetricsSources | undefined;

  constructor(nodeId: string) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node: nodeId });
    collectDefaultMetrics({ register: this.registry, prefix: 'vigil_' });
    this.recordsIn = new Counter({
      name: 'vigil_records_in_total',
      help: 'Records consumed, per topic',
      labelNames: ['topic'],
      registers,
    });
    this.recordsOut = new Counter({
      name: 'vigil_records_out_total',
      help: 'Records produced, per topic',
      labelNames: ['topic'],
      registers,
    });
    this.eventToOutput = new Histogram({
      name: 'vigil_event_to_output_seconds',
      help: 'Wall time from the event to its output being in Kafka: an alert from the event time of the reading that caused it, a window result from the end of its window',
      labelNames: ['kind'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.checkpointDuration = new Histogram({
      name: 'vigil_checkpoint_duration_seconds',
      help: 'Barrier, snapshots and the fenced Redis step of one partition checkpoint',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.alerts = new Counter({
      name: 'vigil_alerts_total',
      help: 'Alerts fired and resolved, per rule',
      labelNames: ['rule', 'state'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'vigil_dead_letters_total',
      help: 'Records sent to vigil.dlq, per source (engine, file, mqtt, notify)',
      labelNames: ['source'],
      registers,
    });
    this.late = new Counter({
      name: 'vigil_late_total',
      help: 'Readings sent to vigil.late (every window they belong to was closed)',
      registers,
    });
    this.grpcCalls = new Counter({
      name: 'vigil_grpc_calls_total',
      help: 'gRPC calls served, per method and status code',
      labelNames: ['method', 'code'],
      registers,
    });
    this.notifications = new Counter({
      name: 'vigil_notifications_total',
      help: 'Deliveries to alert sinks, per sink and outcome (delivered, retried, dead_lettered)',
      labelNames: ['sink', 'outcome'],
      registers,
    });
    this.logLines = new Counter({
      name: 'vigil_log_lines_total',
      help: 'Log records written to vigil.logs by this node’s fetchers, per source',
      labelNames: ['source'],
      registers,
    });
    const sources = (): MetricsSources | undefined => this.sources;
    new Gauge({
      name: 'vigil_checkpoint_age_seconds',
      help: 'Time since each owned partition’s last checkpoint',
      labelNames: ['partition'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const p of sources()?.partitions() ?? [])
          this.set({ partition: p.partition }, (now - p.lastCheckpointAt) / 1000);
      },
    });
    new Gauge({
      name: 'vigil_consumer_lag',
      help: 'Records between each owned partition’s next offset and its end, as of its last batch',
      labelNames: ['partition'],
      registers,
      collect() {
        this.reset();
        for (const p of sources()?.partitions() ?? [])
          if (p.lag !== undefined) this.set({ partition: p.partition }, p.lag);
      },
    });
    new Gauge({
      name: 'vigil_actors',
      help: 'Actors on this node',
      registers,
      collect() {
        this.set(sources()?.actors() ?? 0);
      },
    });
    new Gauge({
      name: 'vigil_mailbox_largest',
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
