import type { SensorSnapshot, SensorCommand } from '../../core/sensor.js';
import type { NodeRef, NodeSummary, PartitionStatus } from '../../ports/node-ref.js';
import { callError } from './status.js';

/** The part of a Remoting link a remote ref needs. */
export interface Asker {
  ask(target: string, type: string, payload: unknown, timeoutMs?: number): Promise<unknown>;
}

/** Message types on the Remoting stream; an envelope's target is the actor path it is for. */
const TYPE = {
  inspect: 'sensor.inspect',
  pause: 'sensor.pause',
  resume: 'sensor.resume',
  crash: 'sensor.crash',
  actors: 'node.actors',
  partitions: 'node.partitions',
  drain: 'node.drain',
  summary: 'node.summary',
} as const;

const DRAIN_TIMEOUT_MS = 60_000;
/** The cluster view asks every node; one that does not answer soon is shown as unreachable. */
const SUMMARY_TIMEOUT_MS = 3_000;

const sensorPath = (sensorId: string): string => `sensor-${sensorId}`;

/** A node reached through its Remoting link. */
export class RemoteNode implements NodeRef {
  constructor(
    readonly nodeId: string,
    private readonly link: Asker,
  ) {}

  async inspect(sensorId: string): Promise<SensorSnapshot | undefined> {
    const snapshot = await this.link.ask(sensorPath(sensorId), TYPE.inspect, { sensorId });
    return snapshot === null ? undefined : (snapshot as SensorSnapshot);
  }

  async control(sensorId: string, command: SensorCommand): Promise<void> {
    await this.link.ask(sensorPath(sensorId), TYPE[command], { sensorId });
  }

  async crash(sensorId: string): Promise<void> {
    await this.link.ask(sensorPath(sensorId), TYPE.crash, { sensorId });
  }

  async listActors(): Promise<string[]> {
    return (await this.link.ask('node', TYPE.actors, {})) as string[];
  }

  async partitions(): Promise<PartitionStatus[]> {
    return ((await this.link.ask('node', TYPE.partitions, {})) as WirePartition[]).map(fromWire);
  }

  async drain(): Promise<string> {
    // Final checkpoints and leaving the group take a while on a busy node.
    return String(await this.link.ask('node', TYPE.drain, {}, DRAIN_TIMEOUT_MS));
  }

  async summary(): Promise<NodeSummary> {
    const s = (await this.link.ask('node', TYPE.summary, {}, SUMMARY_TIMEOUT_MS)) as NodeSummary;
    return { ...s, partitions: s.partitions.map(fromWire) };
  }
}

/** A partition status off the wire: JSON has no undefined, so absent fields travel as null. */
type WirePartition = { [K in keyof PartitionStatus]: PartitionStatus[K] | null };

function fromWire(p: WirePartition | PartitionStatus): PartitionStatus {
  return {
    partition: p.partition ?? '',
    state: p.state ?? '',
    epoch: p.epoch ?? 0,
    offset: p.offset ?? undefined,
    lastCheckpointAt: p.lastCheckpointAt ?? undefined,
    lag: p.lag ?? undefined,
  };
}

function toWire(p: PartitionStatus): WirePartition {
  return {
    partition: p.partition,
    state: p.state,
    epoch: p.epoch,
    offset: p.offset ?? null,
    lastCheckpointAt: p.lastCheckpointAt ?? null,
    lag: p.lag ?? null,
  };
}

function sensorIdOf(type: string, payload: unknown): string {
  const sensorId = (payload as { sensorId?: unknown } | null)?.sensorId;
  if (typeof sensorId !== 'string' || sensorId === '')
    throw callError('INVALID_ARGUMENT', `${type}: payload needs a sensorId`);
  return sensorId;
}

/** Carries out what other nodes ask of this one, with this node's own ref. */
export function nodeCommandHandler(
  local: NodeRef,
): (target: string, type: string, payload: unknown) => Promise<unknown> {
  return async (_target, type, payload) => {
    switch (type) {
      case TYPE.inspect:
        return (await local.inspect(sensorIdOf(type, payload))) ?? null;
      case TYPE.pause:
        await local.control(sensorIdOf(type, payload), 'pause');
        return null;
      case TYPE.resume:
        await local.control(sensorIdOf(type, payload), 'resume');
        return null;
      case TYPE.crash:
        await local.crash(sensorIdOf(type, payload));
        return null;
      case TYPE.actors:
        return local.listActors();
      case TYPE.partitions:
        return (await local.partitions()).map(toWire);
      case TYPE.drain:
        return local.drain();
      case TYPE.summary: {
        const s = await local.summary();
        return { ...s, partitions: s.partitions.map(toWire) };
      }
      default:
        throw callError('UNIMPLEMENTED', `no handler for remote message type "${type}"`);
    }
  };
}
