import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { configSchema } from '../../src/config/schema/index.js';

/** The object keys a schema accepts, as dotted paths, through defaults, pipes, unions and arrays. */
function keysOf(schema: z.ZodType, path: string, out: Set<string>): void {
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  const inner = (k: string): z.ZodType => def[k] as z.ZodType;
  switch (def.type) {
    case 'object':
      for (const [k, v] of Object.entries(def['shape'] as Record<string, z.ZodType>)) {
        const p = path === '' ? k : `${path}.${k}`;
        out.add(p);
        keysOf(v, p, out);
      }
      return;
    case 'pipe':
      keysOf(inner('in'), path, out);
      return;
    case 'default':
    case 'prefault':
    case 'optional':
    case 'nullable':
    case 'catch':
    case 'readonly':
      keysOf(inner('innerType'), path, out);
      return;
    case 'array':
      keysOf(inner('element'), path, out);
      return;
    case 'union':
      for (const o of def['options'] as z.ZodType[]) keysOf(o, path, out);
      return;
    default:
      return;
  }
}

/** docs/config.md is the reference of the config: every key the schema takes is named there. */
describe('docs/config.md', () => {
  it('names every key of the configuration schema', () => {
    const keys = new Set<string>();
    keysOf(configSchema({}), '', keys);
    const doc = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');
    // A key is named as `key`, `section.key`, or as a word of a table row or a key list.
    const named = (p: string): boolean => {
      const last = p.split('.').at(-1) ?? p;
      return doc.includes(`\`${p}\``) || new RegExp(`[\`.{,\\s]${last}[\`.:,}\\s]`).test(doc);
    };
    expect(keys.size).toBeGreaterThan(100);
    expect([...keys].filter((k) => !named(k))).toEqual([]);
  });
});
