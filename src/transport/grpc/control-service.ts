import { status, type sendUnaryData, type ServerUnaryCall, type Server } from '@grpc/grpc-js';
import type { ControlHandlers } from '../../gen/vigil/v1/Control.js';
import type { VigilGrpc } from './proto.js';

/** What the Control service needs from the node it runs on. */
export interface ControlBackend {
  readonly nodeId: string;
  readonly address: string;
  /** The live nodes of the cluster (membership); this node alone when there is none. */
  members(): Promise<{ id: string; address: string; partitions: readonly string[]; expiresAt: number }[]>;
  partitions(): { partition: string; state: string; epoch: number; offset: string | undefined }[];
  crashSensor(sensorId: string): Promise<void>;
}

type Unary<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;

function unimplemented<Req, Res>(name: string): Unary<Req, Res> {
  return (_call, callback) => {
    callback({ code: status.UNIMPLEMENTED, details: `${name} is not implemented yet (cluster issue)` });
  };
}

const SENSOR_ID = /^[^\s]{1,256}$/;

/**
 * The Control service of one node. Listing and fault injection work on this node; commands that must
 * reach another node's actors (pause, inspect, rules, drain) come with membership and remoting.
 */
export function addControlService(server: Server, grpc: VigilGrpc, backend: ControlBackend): void {
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
      backend.crashSensor(sensorId).then(
        () => {
          callback(null, {
            node: backend.nodeId,
            detail: `sensor ${sensorId} crashed and restored from its last checkpoint`,
          });
        },
        (err: unknown) => {
          callback({ code: status.FAILED_PRECONDITION, details: (err as Error).message });
        },
      );
    },
    ListActors: unimplemented('ListActors'),
    InspectActor: unimplemented('InspectActor'),
    PauseSensor: unimplemented('PauseSensor'),
    ResumeSensor: unimplemented('ResumeSensor'),
    SetRule: unimplemented('SetRule'),
    DeleteRule: unimplemented('DeleteRule'),
    ListRules: unimplemented('ListRules'),
    DrainNode: unimplemented('DrainNode'),
  };
  server.addService(grpc.vigil.v1.Control.service, handlers);
}
