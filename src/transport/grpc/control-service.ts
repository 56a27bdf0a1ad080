import {
  Metadata,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type Server,
  type ServiceError,
} from '@grpc/grpc-js';
import type { SensorSnapshot } from '../../core/sensor.js';
import type { RuntimeRules } from '../../cluster/rules.js';
import { ConfigError, NotOwnedError } from '../../errors.js';
import type { Ack__Output } from '../../gen/vigil/v1/Ack.js';
import type { ControlClient, ControlHandlers } from '../../gen/vigil/v1/Control.js';
import type { InspectActorResponse__Output } from '../../gen/vigil/v1/InspectActorResponse.js';
import type { VigilGrpc } from './proto.js';

/** Set on a call one node forwards to another: the receiver answers itself, it never forwards again. */
const FORWARDED = 'vigil-forwarded-by';

/** What the Control service needs from the node it runs on. */
export interface ControlBackend {
  readonly nodeId: string;
  readonly address: string;
  /** The live nodes of the cluster (membership); this node alone when there is none. */
  members(): Promise<{ id: string; address: string; partitions: readonly string[]; expiresAt: number }[]>;
  partitions(): { partition: string; state: string; epoch: number; offset: string | undefined }[];
  crashSensor(sensorId: string): Promise<void>;
  controlSensor(sensorId: string, command: 'pause' | 'resume'): Promise<void>;
  inspectSensor(sensorId: string): Promise<SensorSnapshot | undefined>;
  /** The live node owning `sensorId`'s partition (membership), if known. */
  ownerOf(sensorId: string): Promise<{ id: string; address: string } | undefined>;
  /** A Control client to another node (mTLS with this node's certificate). */
  peer(address: string): ControlClient;
  /** Runtime rules shared by the cluster (undefined: rules come from the config file only). */
  readonly rules?: RuntimeRules;
}

type Unary<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;

function unimplemented<Req, Res>(name: string): Unary<Req, Res> {
  return (_call, callback) => {
    callback({ code: status.UNIMPLEMENTED, details: `${name} is not implemented yet (cluster issue)` });
  };
}

const SENSOR_ID = /^[^\s]{1,256}$/;

function grpcError(err: unknown): Partial<ServiceError> {
  if (err instanceof NotOwnedError) return { code: status.FAILED_PRECONDITION, details: err.message };
  if (err instanceof ConfigError) return { code: status.INVALID_ARGUMENT, details: err.message };
  const e = err as Partial<ServiceError>;
  if (typeof e.code === 'number') return { code: e.code, details: e.details ?? e.message ?? 'failed' };
  return { code: status.INTERNAL, details: (err as Error).message };
}

/**
 * Runs a sensor-addressed command where the sensor lives: here when this node owns the sensor's
 * partition (or the call was already forwarded once), otherwise on the owner, over mTLS with the
 * caller's own token (the owner checks it again).
 */
async function routed<Res>(
  backend: ControlBackend,
  call: ServerUnaryCall<unknown, Res>,
  sensorId: string,
  local: () => Promise<Res>,
  remote: (
    client: ControlClient,
    metadata: Metadata,
    done: (err: ServiceError | null, res?: Res) => void,
  ) => void,
): Promise<Res> {
  if (call.metadata.get(FORWARDED).length > 0) return local();
  const owner = await backend.ownerOf(sensorId);
  if (owner === undefined || owner.id === backend.nodeId) return local();
  const metadata = new Metadata();
  const auth = call.metadata.get('authorization')[0];
  if (auth !== undefined) metadata.set('authorization', auth);
  metadata.set(FORWARDED, backend.nodeId);
  return new Promise<Res>((resolve, reject) => {
    remote(backend.peer(owner.address), metadata, (err, res) => {
      if (err !== null) reject(err);
      else resolve(res as Res);
    });
  });
}

/**
 * The Control service of one node. Listing and fault injection work on this node; commands that must
 * reach another node's actors (pause, inspect, rules, drain) come with membership and remoting.
 */
export function addControlService(server: Server, grpc: VigilGrpc, backend: ControlBackend): void {
  /** Pause and resume run on the sensor's owner, like every sensor-addressed command. */
  const sensorCommand = (
    call: ServerUnaryCall<{ sensorId: string }, Ack__Output>,
    callback: sendUnaryData<Ack__Output>,
    command: 'pause' | 'resume',
  ): void => {
    const sensorId = call.request.sensorId;
    if (!SENSOR_ID.test(sensorId)) {
      callback({
        code: status.INVALID_ARGUMENT,
        details: 'sensor_id must be 1 to 256 characters without spaces',
      });
      return;
    }
    routed<Ack__Output>(
      backend,
      call,
      sensorId,
      async () => {
        await backend.controlSensor(sensorId, command);
        const detail =
          command === 'pause'
            ? `sensor ${sensorId} paused: its readings are held until resumed`
            : `sensor ${sensorId} resumed`;
        return { node: backend.nodeId, detail };
      },
      (client, md, done) => {
        if (command === 'pause') client.pauseSensor({ sensorId }, md, done);
        else client.resumeSensor({ sensorId }, md, done);
      },
    ).then(
      (ack) => {
        callback(null, ack);
      },
      (err: unknown) => {
        callback(grpcError(err));
      },
    );
  };

  const handlers: ControlHandlers = {
    ListNodes: (_call, callback) => {
      backend.members().then(
        (members) => {
          callback(null, {
            nodes: members.map((m) => ({
              id: m.id,
              address: m.address,
              partitions: [...m.partitions],
              leaseExpiresAt: String(m.expiresAt),
            })),
          });
        },
        (err: unknown) => {
          callback({
            code: status.UNAVAILABLE,
            details: `reading the membership failed: ${(err as Error).message}`,
          });
        },
      );
    },
    ListPartitions: (_call, callback) => {
      callback(null, {
        partitions: backend.partitions().map((p) => ({
          partition: p.partition,
          owner: backend.nodeId,
          epoch: String(p.epoch),
          offset: p.offset ?? '',
          state: p.state,
        })),
      });
    },
    CrashActor: (call, callback) => {
      const sensorId = call.request.sensorId;
      if (!SENSOR_ID.test(sensorId)) {
        callback({
          code: status.INVALID_ARGUMENT,
          details: 'sensor_id must be 1 to 256 characters without spaces',
        });
        return;
      }
      routed<Ack__Output>(
        backend,
        call,
        sensorId,
        async () => {
          await backend.crashSensor(sensorId);
          return {
            node: backend.nodeId,
            detail: `sensor ${sensorId} crashed and restored from its last checkpoint`,
          };
        },
        (client, md, done) => client.crashActor({ sensorId }, md, done),
      ).then(
        (ack) => {
          callback(null, ack);
        },
        (err: unknown) => {
          callback(grpcError(err));
        },
      );
    },
    InspectActor: (call, callback) => {
      const sensorId = call.request.sensorId;
      if (!SENSOR_ID.test(sensorId)) {
        callback({
          code: status.INVALID_ARGUMENT,
          details: 'sensor_id must be 1 to 256 characters without spaces',
        });
        return;
      }
      routed<InspectActorResponse__Output>(
        backend,
        call,
        sensorId,
        async () => {
          const snapshot = await backend.inspectSensor(sensorId);
          if (snapshot === undefined) {
            throw Object.assign(
              new Error(
                `sensor ${sensorId} has no state on its owner ${backend.nodeId}: no reading of it was seen`,
              ),
              {
                code: status.NOT_FOUND,
              },
            );
          }
          return {
            node: backend.nodeId,
            path: `sensor-${sensorId}`,
            stateJson: JSON.stringify(snapshot),
            paused: snapshot.held !== undefined,
          };
        },
        (client, md, done) => client.inspectActor({ sensorId }, md, done),
      ).then(
        (res) => {
          callback(null, res);
        },
        (err: unknown) => {
          callback(grpcError(err));
        },
      );
    },
    ListActors: unimplemented('ListActors'),
    PauseSensor: (call, callback) => {
      sensorCommand(call, callback, 'pause');
    },
    ResumeSensor: (call, callback) => {
      sensorCommand(call, callback, 'resume');
    },
    SetRule: (call, callback) => {
      const rules = backend.rules;
      if (rules === undefined) {
        callback({
          code: status.FAILED_PRECONDITION,
          details: 'this node has no runtime rules (it serves no cluster)',
        });
        return;
      }
      rules.set(call.request.specJson).then(
        ({ rule, version }) => {
          callback(null, { id: rule.id, specJson: call.request.specJson, version: String(version) });
        },
        (err: unknown) => {
          callback(grpcError(err));
        },
      );
    },
    DeleteRule: (call, callback) => {
      const rules = backend.rules;
      if (rules === undefined) {
        callback({
          code: status.FAILED_PRECONDITION,
          details: 'this node has no runtime rules (it serves no cluster)',
        });
        return;
      }
      rules.delete(call.request.id).then(
        (version) => {
          if (version === undefined)
            callback({ code: status.NOT_FOUND, details: `no rule "${call.request.id}" is in force` });
          else
            callback(null, {
              node: backend.nodeId,
              detail: `rule ${call.request.id} deleted (rules version ${version})`,
            });
        },
        (err: unknown) => {
          callback(grpcError(err));
        },
      );
    },
    ListRules: (_call, callback) => {
      const rules = backend.rules;
      if (rules === undefined) {
        callback({
          code: status.FAILED_PRECONDITION,
          details: 'this node has no runtime rules (it serves no cluster)',
        });
        return;
      }
      rules.current().then(
        ({ version, entries }) => {
          callback(null, {
            version: String(version),
            rules: entries.map((e) => ({ id: e.rule.id, specJson: e.specJson, version: String(version) })),
          });
        },
        (err: unknown) => {
          callback(grpcError(err));
        },
      );
    },
    DrainNode: unimplemented('DrainNode'),
  };
  server.addService(grpc.vigil.v1.Control.service, handlers);
}
