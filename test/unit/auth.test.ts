import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { TokenAuthority } from '../../src/transport/auth.js';

const admin = 'a'.repeat(32);
const viewer = 'v'.repeat(32);
const node = 'n'.repeat(32);
const authority = TokenAuthority.parse(`admin=${admin}, viewer=${viewer},node=${node}`);

describe('TokenAuthority', () => {
  it.each([
    ['/vigil.v1.Control/ListNodes', viewer, true],
    ['/vigil.v1.Control/ListNodes', admin, true],
    ['/vigil.v1.Control/CrashActor', viewer, false],
    ['/vigil.v1.Control/CrashActor', admin, true],
    ['/vigil.v1.Alerts/Subscribe', viewer, true],
    ['/vigil.v1.Remoting/Connect', admin, false],
    ['/vigil.v1.Remoting/Connect', node, true],
    ['/vigil.v1.Control/SomethingNew', viewer, false],
    ['/vigil.v1.Control/SomethingNew', admin, true],
  ])('%s with %s… -> %s', (method, token, allowed) => {
    expect(authority.authorize(method, `Bearer ${token}`).ok).toBe(allowed);
  });

  it('lets anyone call health and reflection, and nobody else call without a token', () => {
    expect(authority.authorize('/grpc.health.v1.Health/Check', undefined)).toEqual({
      ok: true,
      role: undefined,
    });
    expect(authority.authorize('/vigil.v1.Query/WindowMetrics', undefined)).toMatchObject({
      ok: false,
      code: status.UNAUTHENTICATED,
    });
    expect(authority.authorize('/vigil.v1.Query/WindowMetrics', `Basic ${viewer}`)).toMatchObject({
      ok: false,
      code: status.UNAUTHENTICATED,
    });
    expect(authority.authorize('/vigil.v1.Control/DrainNode', `Bearer ${viewer}`)).toMatchObject({
      ok: false,
      code: status.PERMISSION_DENIED,
    });
  });

  it('rejects token specs that are malformed or weak, naming the problem', () => {
    expect(() => TokenAuthority.parse('root=' + admin)).toThrow(ConfigError);
    expect(() => TokenAuthority.parse('admin=short')).toThrow(/shorter than 16/);
    expect(() => TokenAuthority.parse(admin)).toThrow(/role=token/);
  });
});
