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

type Done<Res> = (err: ServiceError | null, res?: Res) => void;

/** Completes a unary call with the outcome of `work`, mapping errors to gRPC statuses. */
function reply<Res>(callback: sendUnaryData<Res>, work: () => Promise<Res>): void {
  work().then(
    (res) => {
      callback(null, res);
    },
    (err: unknown) => {
      callback(grpcError(err));
    },
  );
}

/**
 * A handler for a command addressed to one sensor: checks the id, then runs `local` on the sensor's
 * owner (here, or forwarded there with `remote`).
 */
function forSensor<Res>(
  backend: ControlBackend,
  local: (sensorId: string) => Promise<Res>,
  remote: (client: ControlClient, sensorId: string, metadata: Metadata, done: Done<Res>) => void,
): (call: ServerUnaryCall<{ sensorId: string }, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => {
    const sensorId = call.request.sensorId;
    if (!SENSOR_ID.test(sensorId)) {
      callback({
        code: status.INVALID_ARGUMENT,
        details: 'sensor_id must be 1 to 256 characters without spaces',
      });
      return;
    }
    reply(callback, () =>
      routed<Res>(
        backend,
        call,
        sensorId,
        () => local(sensorId),
        (client, md, done) => {
          remote(client, sensorId, md, done);
        },
      ),
    );
  };
}

/** Runs `work` with the cluster's runtime rules, or answers that this node has none. */
function withRules<Res>(
  backend: ControlBackend,
  callback: sendUnaryData<Res>,
  work: (rules: RuntimeRules) => Promise<Res>,
): void {
  const rules = backend.rules;
  if (rules === undefined) {
    callback({
      code: status.FAILED_PRECONDITION,
      details: 'this node has no runtime rules (it serves no cluster)',
    });
    return;
  }
  reply(callback, () => work(rules));
}

/**
 * The Control service of one node. Sensor-addressed commands run on the sensor's owner whichever
 * node receives them; rules are shared through Redis, so any node takes a change.
 */
export function addControlService(server: Server, grpc: VigilGrpc, backend: ControlBackend): void {
  const pauseOrResume = (command: 'pause' | 'resume') =>
    forSensor<Ack__Output>(
      backend,
      async (sensorId) => {
        await backend.controlSensor(sensorId, command);
        const detail =
          command === 'pause'
            ? `sensor ${sensorId} paused: its readings are held until resumed`
            : `sensor ${sensorId} resumed`;
        return { node: backend.nodeId, detail };
      },
      (client, sensorId, md, done) => {
        if (command === 'pause') client.pauseSensor({ sensorId }, md, done);
        else client.resumeSensor({ sensorId }, md, done);
      },
    );

  const handlers: ControlHandlers = {
    ListNodes: (_call, callback) => {
      reply(callback, async () => ({
        nodes: (await backend.members()).map((m) => ({
          id: m.id,
          address: m.address,
          partitions: [...m.partitions],
          leaseExpiresAt: String(m.expiresAt),
        })),
      }));
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
    CrashActor: forSensor<Ack__Output>(
      backend,
      async (sensorId) => {
        await backend.crashSensor(sensorId);
        return {
          node: backend.nodeId,
          detail: `sensor ${sensorId} crashed and restored from its last checkpoint`,
        };
      },
      (client, sensorId, md, done) => client.crashActor({ sensorId }, md, done),
    ),
    InspectActor: forSensor<InspectActorResponse__Output>(
      backend,
      async (sensorId) => {
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
      (client, sensorId, md, done) => client.inspectActor({ sensorId }, md, done),
    ),
    PauseSensor: pauseOrResume('pause'),
    ResumeSensor: pauseOrResume('resume'),
    SetRule: (call, callback) => {
      withRules(backend, callback, async (rules) => {
        const { rule, version } = await rules.set(call.request.specJson);
        return { id: rule.id, specJson: call.request.specJson, version: String(version) };
      });
    },
    DeleteRule: (call, callback) => {
      withRules(backend, callback, async (rules) => {
        const version = await rules.delete(call.request.id);
        if (version === undefined)
          throw Object.assign(new Error(`no rule "${call.request.id}" is in force`), {
            code: status.NOT_FOUND,
          });
        return { node: backend.nodeId, detail: `rule ${call.request.id} deleted (rules version ${version})` };
      });
    },
    ListRules: (_call, callback) => {
      withRules(backend, callback, async (rules) => {
        const { version, entries } = await rules.current();
        return {
          version: String(version),
          rules: entries.map((e) => ({ id: e.rule.id, specJson: e.specJson, version: String(version) })),
        };
      });
    },
    ListActors: unimplemented('ListActors'),
    DrainNode: unimplemented('DrainNode'),
  };
  server.addService(grpc.vigil.v1.Control.service, handlers);
}
