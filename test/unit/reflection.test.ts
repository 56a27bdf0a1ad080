import { describe, expect, it } from 'vitest';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { loadVigilProto } from '../../src/transport/grpc/proto.js';
import { mapEntryName, reflectableDefinition } from '../../src/transport/grpc/reflection.js';

interface Message {
  name: string;
  field?: { name: string; typeName?: string }[];
  nestedType?: (Message & { options?: { mapEntry?: boolean } })[];
}

describe('reflection descriptors', () => {
  it('names map entries as protoc does', () => {
    expect(mapEntryName('labels')).toBe('LabelsEntry');
    expect(mapEntryName('by_sensor_id')).toBe('BySensorIdEntry');
  });

  it('serves the Alert message with its labels map entry named LabelsEntry, the field pointing at it', () => {
    const definition = reflectableDefinition(loadVigilProto().definition);
    const bytes = (definition['vigil.v1.Alert'] as { fileDescriptorProtos: Uint8Array[] })
      .fileDescriptorProtos;
    const file = descriptor.FileDescriptorProto.decode(bytes[0] as Uint8Array) as unknown as {
      messageType: Message[];
      service: { name: string }[];
    };
    const alert = file.messageType.find((m) => m.name === 'Alert');
    const entry = alert?.nestedType?.find((n) => n.options?.mapEntry === true);
    expect(entry?.name).toBe('LabelsEntry');
    expect(alert?.field?.find((f) => f.name === 'labels')?.typeName).toBe('LabelsEntry');
    expect(file.service.map((s) => s.name)).toEqual(expect.arrayContaining(['Control', 'Alerts']));
  });
});
