import type { Member } from '../redis/membership.js';
import type { NodeRef, PartitionStatus } from '../../ports/node-ref.js';

export interface PartitionView extends PartitionStatus {
  /** Time since the partition's last checkpoint, when known. */
  readonly checkpointAgeMs?: number | undefined;
}

/** One node as the dashboard's cluster view shows it. */
export interface NodeView {
  readonly id: string;
  readonly address: string;
  /** False when the node is a member (its lease is live) but did not answer: dead, or cut off. */
  readonly reachable: boolean;
  readonly partitions: readonly PartitionView[];
  readonly actors?: number;
  readonly logSources?: readonly string[];
  readonly stats?: Readonly<Record<string, number>>;
}

export interface ClusterViewSources {
  /** The live members (membership); empty when the node runs without one (no gRPC). */
  members(): Promise<Member[]>;
  readonly local: NodeRef;
  /** Another node over Remoting; absent without gRPC. */
  readonly remote?: (member: { id: string; address: string }) => NodeRef;
}

/**
 * The cluster as one node sees it: every live member asked for its summary (this node directly, the
 * others over Remoting, at once). A member that does not answer is shown from the membership, with
 * the partitions it last published, as unreachable.
 */
export async function clusterView(s: ClusterViewSources): Promise<NodeView[]> {
  const now = Date.now();
  const members = await s.members();
  const list =
    members.length > 0 ? members : [{ id: s.local.nodeId, address: '', partitions: [], expiresAt: now }];
  const views = await Promise.all(
    list.map(async (m): Promise<NodeView> => {
      const ref = m.id === s.local.nodeId || s.remote === undefined ? s.local : s.remote(m);
      try {
        const summary = await ref.summary();
        return {
          id: m.id,
          address: m.address,
          reachable: true,
          actors: summary.actors,
          logSources: summary.logSources,
          stats: summary.stats,
          partitions: summary.partitions
            .map((p) => ({
              ...p,
              ...(p.lastCheckpointAt === undefined
                ? {}
                : { checkpointAgeMs: Math.max(0, now - p.lastCheckpointAt) }),
            }))
            .sort((a, b) => a.partition.localeCompare(b.partition)),
        };
      } catch {
        return {
          id: m.id,
          address: m.address,
          reachable: false,
          partitions: m.partitions.map((partition) => ({
            partition,
            state: 'unreachable',
            epoch: 0,
            offset: undefined,
          })),
        };
      }
    }),
  );
  return views.sort((a, b) => a.id.localeCompare(b.id));
}
