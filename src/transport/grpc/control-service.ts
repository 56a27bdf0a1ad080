import { status, type sendUnaryData, type ServerUnaryCall, type Server } from '@grpc/grpc-js';
import type { NodeRef } from '../../ports/node-ref.js';
import type { RuntimeRules } from '../redis/runtime-rules.js';
import type { Ack__Output } from '../../gen/vigil/v1/Ack.js';
import type { ControlHandlers } from '../../gen/vigil/v1/Control.js';
import type { InspectActorResponse__Output } from '../../gen/vigil/v1/InspectActorResponse.js';
import type { ListActorsRequest__Output } from '../../gen/vigil/v1/ListActorsRequest.js';
import type { VigilGrpc } from './proto.js';
import { callError, statusOf } from './status.js';

/** A node of the cluster as membership lists it. */
export interface Member {
  readonly id: string;
  readonly address: string;
  readonly partitions: readonly string[];
  readonly expiresAt: number;
}

/** What the Control service needs from the node it runs on. */
export interface ControlBackend {
  readonly nodeId: string;
  /** The live nodes of the cluster (membership); this node alone when there is none. */
  members(): Promise<Member[]>;
  /** The live node owning `sensorId`'s partition (membership), if known. */
  ownerOf(sensorId: string): Promise<{ id: string; address: string } | undefined>;
  /** This node. */
  readonly local: NodeRef;
  /** Another node, over its Remoting link. */
  remote(member: { id: string; address: string }): NodeRef;
  /** Runtime rules shared by the cluster (undefined: rules come from the config file only). */
  readonly rules?: RuntimeRules;
  /** Declares sensors expected to report (an `expect` record each on vigil.readings: any node can). */
  expectSensors(sensorIds: readonly string[]): Promise<void>;
}

const SENSOR_ID = /^[^\s]{1,256}$/;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1_000;

/** Completes a unary call with the outcome of `work`, mapping errors to gRPC statuses. */
function reply<Res>(callback: sendUnaryData<Res>, work: () => Promise<Res>): void {
  work().then(
    (res) => {
      callback(null, res);
    },
    (err: unknown) => {
      callback(statusOf(err));
    },
  );
}

/** The ref of the node owning a sensor's partition: this node's own, or a remote one. */
async function ownerRef(backend: ControlBackend, sensorId: string): Promise<NodeRef> {
  const owner = await backend.ownerOf(sensorId);
  return owner === undefined || owner.id === backend.nodeId ? backend.local : backend.remote(owner);
}

/** A handler for a command addressed to one sensor: checks the id, then runs `work` on its owner. */
function forSensor<Res>(
  backend: ControlBackend,
  work: (owner: NodeRef, sensorId: string) => Promise<Res>,
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
    reply(callback, async () => work(await ownerRef(backend, sensorId), sensorId));
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

/** Page bounds of a ListActors request, or why they are wrong. */
function pageOf(req: ListActorsRequest__Output): { start: number; size: number } {
  const size = req.pageSize === 0 ? DEFAULT_PAGE : req.pageSize;
  if (size < 1 || size > MAX_PAGE)
    throw callError('INVALID_ARGUMENT', `page_size must be 1 to ${MAX_PAGE} (0: ${DEFAULT_PAGE})`);
  const start = req.pageToken === '' ? 0 : Number(req.pageToken);
  if (!Number.isSafeInteger(start) || start < 0)
    throw callError('INVALID_ARGUMENT', `page_token "${req.pageToken}" is not one this service gave`);
  return { start, size };
}

const refOf = (backend: ControlBackend, m: Member): NodeRef =>
  m.id === backend.nodeId ? backend.local : backend.remote(m);

/**
 * Every partition of the cluster with its owner. A member that does not answer (dead, its lease not
 * yet expired) shows what the membership says it holds, as unreachable, rather than failing it all.
 */
async function listPartitions(backend: ControlBackend) {
  const members = await backend.members();
  const perNode = await Promise.all(
    members.map(async (m) => {
      const own = await refOf(backend, m)
        .partitions()
        .catch(() =>
          m.partitions.map((partition) => ({ partition, state: 'unreachable', epoch: 0, offset: undefined })),
        );
      return own.map((p) => ({
        partition: p.partition,
        owner: m.id,
        epoch: String(p.epoch),
        offset: p.offset ?? '',
        state: p.state,
      }));
    }),
  );
  return { partitions: perNode.flat().sort((a, b) => a.partition.localeCompare(b.partition)) };
}

/** A page of the cluster's actor paths; a member that does not answer is left out of the listing. */
async function listActors(backend: ControlBackend, req: ListActorsRequest__Output) {
  const { start, size } = pageOf(req);
  const members = await backend.members();
  const perNode = await Promise.all(
    members.map(async (m) =>
      (
        await refOf(backend, m)
          .listActors()
          .catch(() => [] as string[])
      ).map((path) => `${m.id}/${path}`),
    ),
  );
  const matching = perNode.flat().filter((p) => p.includes(req.filter));
  matching.sort();
  const next = start + size < matching.length ? String(start + size) : '';
  return { paths: matching.slice(start, start + size), nextPageToken: next };
}

/**
 * Drains the named node. The name is required: an empty one would drain whichever node the client
 * happens to be connected to, which nobody means.
 */
async function drainNode(backend: ControlBackend, nodeId: string): Promise<Ack__Output> {
  if (nodeId === '')
    throw callError(
      'INVALID_ARGUMENT',
      'node_id is required: name the node to drain (vigil nodes lists them)',
    );
  const member = (await backend.members()).find((m) => m.id === nodeId);
  if (member === undefined)
    throw callError('NOT_FOUND', `node "${nodeId}" is not a live member of the cluster`);
  const ref = refOf(backend, member);
  return { node: ref.nodeId, detail: await ref.drain() };
}

/** Declares sensors expected to report; the ids are checked as a sensor command's are. */
async function expectSensors(backend: ControlBackend, ids: readonly string[]): Promise<Ack__Output> {
  if (ids.length === 0)
    throw callError('INVALID_ARGUMENT', 'sensor_ids is empty: name the sensors to expect');
  if (ids.length > MAX_PAGE)
    throw callError('INVALID_ARGUMENT', `${ids.length} sensors at once: at most ${MAX_PAGE} per call`);
  const bad = ids.find((id) => !SENSOR_ID.test(id));
  if (bad !== undefined)
    throw callError(
      'INVALID_ARGUMENT',
      `sensor id "${bad.slice(0, 64)}" must be 1-256 characters without spaces`,
    );
  await backend.expectSensors(ids);
  return {
    node: backend.nodeId,
    detail: `${ids.length} sensor(s) expected: the silence rules watch them from now, whether they report or not`,
  };
}

/** The commands for one sensor: each runs on the sensor's owner. */
function sensorHandlers(backend: ControlBackend) {
  const pauseOrResume = (command: 'pause' | 'resume') =>
    forSensor<Ack__Output>(backend, async (owner, sensorId) => {
      await owner.control(sensorId, command);
      const detail =
        command === 'pause'
          ? `sensor ${sensorId} paused: its readings are held until resumed`
          : `sensor ${sensorId} resumed`;
      return { node: owner.nodeId, detail };
    });
  return {
    CrashActor: forSensor<Ack__Output>(backend, async (owner, sensorId) => {
      await owner.crash(sensorId);
      return {
        node: owner.nodeId,
        detail: `sensor ${sensorId} crashed and restored from its last checkpoint`,
      };
    }),
    InspectActor: forSensor<InspectActorResponse__Output>(backend, async (owner, sensorId) => {
      const snapshot = await owner.inspect(sensorId);
      if (snapshot === undefined)
        throw callError(
          'NOT_FOUND',
          `sensor ${sensorId} has no state on its owner ${owner.nodeId}: no reading of it was seen`,
        );
      return {
        node: owner.nodeId,
        path: `sensor-${sensorId}`,
        stateJson: JSON.stringify(snapshot),
        paused: snapshot.held !== undefined,
      };
    }),
    PauseSensor: pauseOrResume('pause'),
    ResumeSensor: pauseOrResume('resume'),
  } satisfies Partial<ControlHandlers>;
}

/** Runtime rules: shared through Redis, so any node takes a change. */
function ruleHandlers(backend: ControlBackend) {
  return {
    SetRule: (call, callback) => {
      withRules(backend, callback, async (rules) => {
        const { rule, version } = await rules.set(call.request.specJson);
        return { id: rule.id, specJson: call.request.specJson, version: String(version) };
      });
    },
    DeleteRule: (call, callback) => {
      withRules(backend, callback, async (rules) => {
        const version = await rules.delete(call.request.id);
        if (version === undefined) throw callError('NOT_FOUND', `no rule "${call.request.id}" is in force`);
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
  } satisfies Partial<ControlHandlers>;
}

/**
 * The Control service of one node. Commands for a sensor run on its owner, whichever node receives
 * them (a remote NodeRef carries them over the Remoting stream); listings gather every node; rules
 * are shared through Redis, so any node takes a change.
 */
export function addControlService(server: Server, grpc: VigilGrpc, backend: ControlBackend): void {
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
      reply(callback, () => listPartitions(backend));
    },
    ListActors: (call, callback) => {
      reply(callback, () => listActors(backend, call.request));
    },
    DrainNode: (call, callback) => {
      reply(callback, () => drainNode(backend, call.request.nodeId));
    },
    ExpectSensors: (call, callback) => {
      reply(callback, () => expectSensors(backend, call.request.sensorIds));
    },
    ...sensorHandlers(backend),
    ...ruleHandlers(backend),
  };
  server.addService(grpc.vigil.v1.Control.service, handlers);
}
