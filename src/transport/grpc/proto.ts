import { fileURLToPath } from 'node:url';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import type { ProtoGrpcType as AlertsProto } from '../../gen/alerts.js';
import type { ProtoGrpcType as ControlProto } from '../../gen/control.js';
import type { ProtoGrpcType as QueryProto } from '../../gen/query.js';
import type { ProtoGrpcType as RemotingProto } from '../../gen/remoting.js';

/** proto/ at the repository root (the same relative path from src/ and from dist/). */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto', import.meta.url));
export const PROTO_FILES = [
  'vigil/v1/common.proto',
  'vigil/v1/remoting.proto',
  'vigil/v1/control.proto',
  'vigil/v1/alerts.proto',
  'vigil/v1/query.proto',
] as const;

/** The same options `npm run proto` generates the TypeScript types with: the types match the runtime. */
export const LOADER_OPTIONS: Options = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export type VigilGrpc = AlertsProto & ControlProto & QueryProto & RemotingProto;

export function loadVigilProto(): { definition: PackageDefinition; grpc: VigilGrpc } {
  const definition = loadSync([...PROTO_FILES], LOADER_OPTIONS);
  return { definition, grpc: loadPackageDefinition(definition) as unknown as VigilGrpc };
}
