import { ConfigError, toVigilError } from '../../core/errors.js';
import { rulesFor } from '../../core/rules/scope.js';
import { READ, WRITE_RULES, type DashboardDeps } from './dashboard-deps.js';
import { bodyTooLarge, json, type Reply, type Route } from './server.js';

const NO_CLUSTER = 'rules are the config file’s on a node without a cluster';

/** The rules in force: read with a viewer token, set and deleted with an admin token. */
export function ruleRoutes(d: Pick<DashboardDeps, 'rules' | 'rulesInForce' | 'sensorLabels'>): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/rules',
      access: READ,
      handle: async ({ url }) => {
        // `?sensor=<id>`: the rules that judge that sensor, each with its own thresholds (a station's view).
        const sensor = url.searchParams.get('sensor');
        if (sensor !== null) {
          const judged = rulesFor(d.rulesInForce(), sensor, d.sensorLabels(sensor));
          return json(200, {
            sensor,
            rules: judged.map(({ overrides, sensors, sensorLabels, ...rule }) => rule),
          });
        }
        if (d.rules === undefined) return json(200, { editable: false, rules: d.rulesInForce() });
        const { version, entries } = await d.rules.current();
        return json(200, {
          editable: true,
          version,
          rules: entries.map((e) => JSON.parse(e.specJson) as unknown),
        });
      },
    },
    {
      method: 'PUT',
      path: '/api/rules',
      access: WRITE_RULES,
      handle: async ({ body, maxBodyBytes }) => {
        const rules = d.rules;
        if (rules === undefined) return json(409, { errors: [NO_CLUSTER] });
        const text = await body();
        if (text === undefined) return json(413, { errors: [bodyTooLarge(maxBodyBytes)] });
        return ruleChange(async () => {
          const { rule, version } = await rules.set(text);
          return json(200, { id: rule.id, version });
        });
      },
    },
    {
      method: 'DELETE',
      path: /^\/api\/rules\/(?<id>[^/]+)$/,
      access: WRITE_RULES,
      handle: async ({ params }) => {
        const rules = d.rules;
        if (rules === undefined) return json(409, { errors: [NO_CLUSTER] });
        const id = decodeURIComponent(params['id'] ?? '');
        return ruleChange(async () => {
          const version = await rules.delete(id);
          return version === undefined
            ? json(404, { errors: [`no rule "${id}"`] })
            : json(200, { id, version });
        });
      },
    },
  ];
}

/**
 * A rule change's answer: the error's HTTP status (400 for an invalid rule) with the reason, and for
 * an invalid rule the key it is about (`field`), so that a form can show it there.
 */
async function ruleChange(work: () => Promise<Reply>): Promise<Reply> {
  try {
    return await work();
  } catch (err) {
    const e = toVigilError(err);
    const field = e instanceof ConfigError && e.path !== '' ? { field: e.path.split(/[.[]/)[0] } : {};
    return json(e.httpStatus, { errors: [e.message], ...field });
  }
}
