import type { SensorLabels } from '../../core/rules/scope.js';
import type { Rule } from '../../core/rules/types.js';
import type { Logger } from '../../obs/logger.js';
import type { AlertLog } from '../../ports/record-log.js';
import type { StateStore } from '../../ports/state-store.js';
import type { Subscriptions } from '../alert-subscription.js';
import type { RuntimeRules } from '../redis/runtime-rules.js';
import type { ClusterViewSources } from './cluster-view.js';

/** Endpoints of the role table (transport/auth.ts): reading the dashboard, and changing rules. */
export const READ = '/http/dashboard/read';
export const WRITE_RULES = '/http/dashboard/rules';

export interface DashboardDeps {
  readonly cluster: ClusterViewSources;
  readonly store: Pick<StateStore, 'series' | 'rollups'>;
  /** Runtime rules (absent without a cluster: the rules are the config file's, read-only). */
  readonly rules?: RuntimeRules;
  /** The rules in force on this node (the config file's, with the runtime rules applied). */
  readonly rulesInForce: () => readonly Rule[];
  /** A sensor's labels (readings.sensorLabels), for the rules that select sensors by them. */
  readonly sensorLabels: (sensorId: string) => SensorLabels;
  readonly alertLog?: AlertLog;
  readonly subscriptions: Subscriptions;
  readonly logger: Logger;
}
