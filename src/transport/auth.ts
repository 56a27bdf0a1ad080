import { status } from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { ConfigError } from '../core/errors.js';

/**
 * Roles, from least to most: a viewer subscribes, queries and lists; an admin may do everything; a
 * node (a peer Vigil node) may use the node-to-node Remoting service. Roles are not ordered for
 * `node`: remoting needs exactly it.
 */
export type Role = 'viewer' | 'admin' | 'node';
type Required = Role | 'public';

/** Which role each method needs. A method missing here needs `admin` (deny by default). */
export const METHOD_ROLES: Readonly<Record<string, Required>> = {
  '/grpc.health.v1.Health/Check': 'public',
  '/grpc.health.v1.Health/Watch': 'public',
  '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo': 'public',
  '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo': 'public',
  '/vigil.v1.Control/ListNodes': 'viewer',
  '/vigil.v1.Control/ListPartitions': 'viewer',
  '/vigil.v1.Control/ListActors': 'viewer',
  '/vigil.v1.Control/InspectActor': 'viewer',
  '/vigil.v1.Control/ListRules': 'viewer',
  '/vigil.v1.Control/PauseSensor': 'admin',
  '/vigil.v1.Control/ResumeSensor': 'admin',
  '/vigil.v1.Control/SetRule': 'admin',
  '/vigil.v1.Control/DeleteRule': 'admin',
  '/vigil.v1.Control/DrainNode': 'admin',
  '/vigil.v1.Control/CrashActor': 'admin',
  '/vigil.v1.Control/ExpectSensors': 'admin',
  '/vigil.v1.Alerts/Subscribe': 'viewer',
  '/vigil.v1.Query/WindowMetrics': 'viewer',
  '/vigil.v1.Remoting/Connect': 'node',
  // HTTP endpoints share the table.
  '/http/compute/metrics': 'viewer',
  '/http/metrics': 'viewer',
  '/http/dashboard/read': 'viewer',
  '/http/dashboard/rules': 'admin',
};

function satisfies(role: Role, required: Required): boolean {
  if (required === 'public') return true;
  if (required === 'node') return role === 'node';
  if (required === 'viewer') return role === 'viewer' || role === 'admin';
  return role === 'admin';
}

export type Verdict =
  | { readonly ok: true; readonly role: Role | undefined }
  | {
      readonly ok: false;
      readonly code: status;
      /** The same verdict as an error code of core/errors.ts (what HTTP answers with). */
      readonly reason: 'UNAUTHENTICATED' | 'PERMISSION_DENIED';
      readonly details: string;
    };

/**
 * Bearer tokens and their roles. Tokens are kept only as SHA-256 digests, and come from the
 * environment or a file, never from the repository:
 *   VIGIL_TOKENS="admin=<token>,viewer=<token>,node=<token>"   (several of one role allowed)
 */
export class TokenAuthority {
  private readonly roles = new Map<string, Role>();

  constructor(tokens: ReadonlyArray<readonly [Role, string]>) {
    for (const [role, token] of tokens) this.roles.set(digest(token), role);
  }

  static parse(spec: string, source = 'VIGIL_TOKENS'): TokenAuthority {
    return new TokenAuthority(parseTokenSpec(spec, source));
  }

  roleOf(authorization: string | undefined): Role | undefined {
    if (authorization === undefined) return undefined;
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    return match?.[1] === undefined ? undefined : this.roles.get(digest(match[1]));
  }

  /** Decides one call: the method's required role against the token's. */
  authorize(method: string, authorization: string | undefined): Verdict {
    const required = METHOD_ROLES[method] ?? 'admin';
    if (required === 'public') return { ok: true, role: this.roleOf(authorization) };
    const role = this.roleOf(authorization);
    if (role === undefined) {
      const why = authorization === undefined ? 'no bearer token' : 'an unknown bearer token';
      return {
        ok: false,
        code: status.UNAUTHENTICATED,
        reason: 'UNAUTHENTICATED',
        details: `${method} needs a bearer token (metadata "authorization: Bearer <token>"); the call had ${why}`,
      };
    }
    if (!satisfies(role, required)) {
      return {
        ok: false,
        code: status.PERMISSION_DENIED,
        reason: 'PERMISSION_DENIED',
        details: `${method} needs role ${required}; the token has role ${role}`,
      };
    }
    return { ok: true, role };
  }
}

/** `admin=<token>,viewer=<token>,node=<token>` (several of one role allowed) as role/token pairs. */
export function parseTokenSpec(spec: string, source = 'VIGIL_TOKENS'): [Role, string][] {
  const pairs: [Role, string][] = [];
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    const role = part.slice(0, eq);
    const token = part.slice(eq + 1);
    if (eq <= 0 || (role !== 'admin' && role !== 'viewer' && role !== 'node')) {
      throw new ConfigError(
        source,
        `"${part.slice(0, Math.max(eq, 0))}=…" is not role=token with role admin, viewer or node`,
      );
    }
    if (token.length < 16) throw new ConfigError(source, `the ${role} token is shorter than 16 characters`);
    pairs.push([role, token]);
  }
  return pairs;
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
