import type { SensorSnapshot } from '../core/sensor.js';
import type { SensorCommand } from '../core/sensor.js';

/**
 * What the control plane asks of a node: commands for the sensors it owns, its actor list, a drain.
 * This node's own engine and another node reached over the Remoting stream both implement it, so
 * the control plane holds a ref without knowing where it points, as with a local actor ref.
 */
export interface NodeRef {
  readonly nodeId: string;
  inspect(sensorId: string): Promise<SensorSnapshot | undefined>;
  control(sensorId: string, command: SensorCommand): Promise<void>;
  crash(sensorId: string): Promise<void>;
  /** The node's actor paths, sorted. */
  listActors(): Promise<string[]>;
  /** The partitions the node works on, with their epoch, next offset and state. */
  partitions(): Promise<PartitionStatus[]>;
  /** Final checkpoints, then the node leaves the group and the cluster; resolves with what it did. */
  drain(): Promise<string>;
  /** What the cluster view shows of the node: its partitions, actors, log sources and counters. */
  summary(): Promise<NodeSummary>;
}

export interface PartitionStatus {
  readonly partition: string;
  readonly state: string;
  readonly epoch: number;
  readonly offset: string | undefined;
  /** Epoch ms of the partition's last checkpoint (or of taking it). */
  readonly lastCheckpointAt?: number | undefined;
  /** Records between its next offset and the partition's end, as of its last batch. */
  readonly lag?: number | undefined;
}

export interface NodeSummary {
  readonly partitions: PartitionStatus[];
  readonly actors: number;
  /** Log sources this node fetches now. */
  readonly logSources: readonly string[];
  /** Engine counters: records, window results, alerts, late, dead letters, checkpoints… */
  readonly stats: Readonly<Record<string, number>>;
}
