import type { PackageDefinition } from '@grpc/proto-loader';
import descriptor from 'protobufjs/ext/descriptor/index.js';

interface FieldDescriptor {
  name?: string;
  typeName?: string;
  label?: number;
}
interface MessageDescriptor {
  name?: string;
  field?: FieldDescriptor[];
  nestedType?: MessageDescriptor[];
  options?: { mapEntry?: boolean };
}
interface FileDescriptor {
  messageType?: MessageDescriptor[];
}

const FileDescriptorProto = descriptor.FileDescriptorProto;

/** protoc's name for a map field's entry message: `labels` -> `LabelsEntry`, `by_id` -> `ByIdEntry`. */
export function mapEntryName(field: string): string {
  return `${field
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('')}Entry`;
}

function renameMapEntries(m: MessageDescriptor): void {
  for (const nested of m.nestedType ?? []) {
    renameMapEntries(nested);
    if (nested.options?.mapEntry !== true) continue;
    const field = m.field?.find((f) => f.typeName === nested.name);
    if (field?.name === undefined) continue;
    nested.name = mapEntryName(field.name);
    field.typeName = nested.name;
  }
}

/** One file descriptor, its map entry messages named as protoc names them. */
export function fixFileDescriptor(bytes: Uint8Array): Uint8Array {
  const file = FileDescriptorProto.decode(bytes) as unknown as FileDescriptor;
  for (const m of file.messageType ?? []) renameMapEntries(m);
  return FileDescriptorProto.encode(file).finish();
}

/**
 * The package definition server reflection serves, with valid descriptors.
 *
 * protobuf.js (7.x) names the entry message of a map field after the field (`Labels`) where protoc
 * and every descriptor validator expect `LabelsEntry`. Go tools (buf curl, grpcurl) refuse such a
 * file as a whole, so through reflection they found none of our services. Each file is fixed once
 * (definitions share their descriptor arrays) and the rest of the definition is left as it is.
 */
export function reflectableDefinition(definition: PackageDefinition): PackageDefinition {
  const fixed = new Map<Uint8Array, Uint8Array>();
  const fix = (b: Uint8Array): Uint8Array => {
    let out = fixed.get(b);
    if (out === undefined) {
      out = fixFileDescriptor(b);
      fixed.set(b, out);
    }
    return out;
  };
  const result: PackageDefinition = {};
  for (const [name, entry] of Object.entries(definition)) {
    const protos = (entry as { fileDescriptorProtos?: Uint8Array[] }).fileDescriptorProtos;
    result[name] = (
      Array.isArray(protos) ? { ...entry, fileDescriptorProtos: protos.map(fix) } : entry
    ) as PackageDefinition[string];
  }
  return result;
}
