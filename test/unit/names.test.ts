import { describe, expect, it } from 'vitest';
import { actorName, fnv1a } from '../../src/actors/names.js';

describe('actor names', () => {
  it('keeps common ids readable and escapes everything else reversibly', () => {
    expect(actorName('sensor-', 'st-17')).toBe('sensor-st-17');
    expect(actorName('sensor-', 'a/b c$')).toBe('sensor-a$2fb$20c$24');
    expect(actorName('', 'é')).toBe('$c3$a9');
    expect(actorName('', 'a$2f')).not.toBe(actorName('', 'a/'));
  });

  it('only produces names nact accepts', () => {
    expect(actorName('s-', '日本/\u0000!')).toMatch(/^[a-z0-9-$_.+!*'(),]+$/i);
  });

  it('hashes stably', () => {
    expect(fnv1a('st-0001')).toBe(fnv1a('st-0001'));
    expect(fnv1a('')).toBe(0x811c9dc5);
  });
});
