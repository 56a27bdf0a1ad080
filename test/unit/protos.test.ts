import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const root = new URL('../../', import.meta.url);

/**
 * proto/ holds every proto a stock client needs to talk to a node: Vigil's own, and the standard
 * health and reflection protos the node serves, the very files of the packages that serve them.
 */
describe('proto/', () => {
  it('ships the health and reflection protos the node serves, unchanged', () => {
    const served = {
      'proto/grpc/health/v1/health.proto': (require('grpc-health-check') as { protoPath: string }).protoPath,
      'proto/grpc/reflection/v1/reflection.proto':
        require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto'),
    };
    for (const [shipped, source] of Object.entries(served))
      expect(readFileSync(new URL(shipped, root), 'utf8')).toBe(readFileSync(source, 'utf8'));
  });
});
