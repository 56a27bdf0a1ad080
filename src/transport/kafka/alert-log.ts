import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import { VigilError } from '../../core/errors.js';
import type { Logger } from '../../obs/logger.js';
import type { AlertLog } from '../../ports/record-log.js';
import { fromKafkaError } from './errors.js';
import { KafkaRecordConsumer } from './record-log.js';

export interface KafkaAlertLogOptions {
  readonly topic: string;
  /** Reader groups are `<prefix><uuid>`: private to one subscription, never committed to. */
  readonly groupPrefix: string;
  readonly sessionTimeoutMs: number;
}

/** vigil.alerts on Kafka, for the Alerts service. */
export class KafkaAlertLog implements AlertLog {
  readonly topic: string;
  private readonly admin: Admin;
  private connected: Promise<void> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: KafkaAlertLogOptions,
    private readonly logger: Logger,
  ) {
    this.topic = options.topic;
    this.admin = kafka.admin();
  }

  async endOffset(): Promise<bigint> {
    // A failed connect is tried again by the next call.
    this.connected ??= this.admin.connect().catch((err: unknown) => {
      this.connected = undefined;
      throw err;
    });
    let offsets: { partition: number; high: string }[];
    try {
      await this.connected;
      offsets = await this.admin.fetchTopicOffsets(this.topic);
    } catch (err) {
      throw fromKafkaError(err, `reading the end of ${this.topic}`);
    }
    const only = offsets[0];
    if (offsets.length !== 1 || only === undefined) {
      throw new VigilError(
        `${this.topic} has ${offsets.length} partitions; the Alerts service needs exactly 1 (README, "Alerts")`,
        { code: 'ALERTS_TOPIC_PARTITIONS' },
      );
    }
    return BigInt(only.high);
  }

  reader(): KafkaRecordConsumer {
    return new KafkaRecordConsumer(
      this.kafka,
      {
        groupId: `${this.options.groupPrefix}${randomUUID()}`,
        sessionTimeoutMs: this.options.sessionTimeoutMs,
        concurrency: 1,
      },
      this.logger,
    );
  }

  async close(): Promise<void> {
    if (this.connected !== undefined) await this.admin.disconnect();
  }
}
