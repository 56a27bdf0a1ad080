// One station: its alerts, the rules that judge it, its chart; and the alert rows every panel shows
// (a sensor id in them opens its station). vigilRuleForm is a global from /assets/rule-form.js.
import { refreshChart } from './charts.js';
import { $, api, el, showError, state, time } from './lib.js';

/** One alert as a row of a list. */
export function renderAlert(a) {
  const li = el('li');
  li.dataset.alertId = a.id;
  li.append(
    el('span', '', time(a.ts)),
    el('span', `state-${a.state}`, a.state),
    el('span', `sev-${a.severity}`, a.severity),
    who(a),
    el('span', 'msg', a.message),
  );
  return li;
}

/** Rule and sensor of an alert, the sensor a link to its station. */
function who(a) {
  const span = el('span');
  span.append(`${a.ruleId} · `, sensorLink(a.sensorId), a.report ? ' · report' : '');
  return span;
}

/** A sensor id that opens the station's view when clicked. */
function sensorLink(sensorId) {
  const a = el('a', 'sensor', sensorId);
  a.href = `#station=${encodeURIComponent(sensorId)}`;
  a.dataset.sensor = sensorId;
  a.addEventListener('click', (e) => {
    e.preventDefault();
    void focusStation(sensorId);
  });
  return a;
}

// ---- one station: its alerts, the rules that judge it, its chart ----

export async function focusStation(sensorId) {
  state.station = sensorId;
  $('station-panel').hidden = false;
  $('station-id').textContent = sensorId;
  renderStation();
  await loadStationRules();
  const option = [...$('series').options].find((o) => o.value.startsWith(`${sensorId}\u0000`));
  if (option) {
    $('series').value = option.value;
    await refreshChart();
  }
  $('station-panel').scrollIntoView({ block: 'nearest' });
}

export function renderStation() {
  const id = state.station;
  if (id === undefined) return;
  $('station-alerts').replaceChildren(
    ...state.alerts
      .filter((a) => a.sensorId === id)
      .slice(0, 20)
      .map(renderAlert),
  );
  const metrics = new Set(
    [...$('series').options]
      .filter((o) => o.value.startsWith(`${id}\u0000`))
      .map((o) => o.value.split('\u0000')[1]),
  );
  // Of the rules that judge it (the server knows their scope), those about what it sends.
  const applies = (r) =>
    r.kind === 'silence' ||
    metrics.has(r.metric) ||
    state.alerts.some((a) => a.sensorId === id && a.ruleId === r.id);
  $('station-rules').replaceChildren(
    ...(state.stationRules ?? []).filter(applies).map((r) => {
      const li = el('li', '', `${r.id}: ${vigilRuleForm.describe(r)}`);
      li.dataset.rule = r.id;
      return li;
    }),
  );
}

/** The rules that judge the station shown, each with its own thresholds, asked of the server. */
export async function loadStationRules() {
  const id = state.station;
  if (id === undefined) return;
  try {
    const { rules } = await api(`/api/rules?sensor=${encodeURIComponent(id)}`);
    if (state.station !== id) return;
    state.stationRules = rules;
    renderStation();
  } catch (err) {
    showError(String(err));
  }
}
