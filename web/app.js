// The Vigil dashboard: plain browser JavaScript, no framework. Every value from the server is put on
// the page with textContent (never as HTML). The token stays in this tab's sessionStorage and goes
// out as a bearer token, as the gRPC clients send theirs.
'use strict';

const $ = (id) => document.getElementById(id);
const state = {
  token: sessionStorage.getItem('vigil.token') ?? '',
  alerts: [],
  // Open episodes: `ruleId sensorId startedAt` -> the firing alert (resolved ones are removed).
  open: new Map(),
  // Every episode seen: key -> { ruleId, sensorId, severity, start, end (undefined while firing) }.
  episodes: new Map(),
  chart: undefined,
  stream: undefined,
};
const MAX_ALERTS = 200;

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function showError(message) {
  const p = $('error');
  p.hidden = message === undefined;
  p.textContent = message ?? '';
}

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: { ...(options.headers ?? {}), authorization: `Bearer ${state.token}` },
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const reason = (body.errors ?? []).join('; ');
    const err = new Error(`${path}: HTTP ${res.status} ${reason}`);
    err.reason = reason;
    err.field = body.field;
    throw err;
  }
  return body;
}

const time = (ms) => new Date(ms).toISOString().slice(11, 19);
const age = (ms) =>
  ms === undefined ? '–' : ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;

// ---- alerts: a Server-Sent Events stream read with fetch (EventSource cannot send a token) ----

function renderAlert(a) {
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

function addAlert(a) {
  if (state.alerts.some((x) => x.id === a.id)) return;
  const episode = `${a.ruleId}\u0000${a.sensorId}\u0000${a.startedAt}`;
  if (a.state === 'firing') state.open.set(episode, a);
  else state.open.delete(episode);
  const known = state.episodes.get(episode);
  state.episodes.set(episode, {
    ruleId: a.ruleId,
    sensorId: a.sensorId,
    severity: a.severity,
    start: a.startedAt,
    end: a.state === 'resolved' ? a.ts : known?.end,
  });
  renderFiring();
  state.alerts.unshift(a);
  if (a.sensorId === state.station) renderStation();
  const list = $('alerts');
  list.prepend(renderAlert(a));
  while (list.children.length > MAX_ALERTS) list.lastElementChild.remove();
  $('alert-count').textContent = String(state.alerts.length);
}

async function followAlerts() {
  // Resume after the last alert shown; the first time, the last hour's.
  for (;;) {
    const last = state.alerts[0];
    const since = last ? `since_id=${last.id}` : `since_ts=${Date.now() - 3_600_000}`;
    try {
      const res = await fetch(`/api/alerts?${since}`, {
        headers: { authorization: `Bearer ${state.token}` },
      });
      if (!res.ok) throw new Error(`alert stream: HTTP ${res.status}`);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = event
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          if (event.includes('event: alert') && data) addAlert(JSON.parse(data));
        }
      }
    } catch (err) {
      showError(String(err));
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

// ---- what is firing now: open episodes grouped by rule ----

const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };
const duration = (ms) => {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
};

function renderFiring() {
  const groups = new Map();
  for (const a of state.open.values()) {
    const g = groups.get(a.ruleId) ?? { ruleId: a.ruleId, severity: a.severity, alerts: [] };
    g.alerts.push(a);
    groups.set(a.ruleId, g);
  }
  const sorted = [...groups.values()].sort(
    (x, y) => SEVERITY_ORDER[x.severity] - SEVERITY_ORDER[y.severity] || x.ruleId.localeCompare(y.ruleId),
  );
  $('firing').replaceChildren(
    ...sorted.map((g) => {
      const li = el('li');
      li.dataset.rule = g.ruleId;
      const oldest = Math.min(...g.alerts.map((a) => a.startedAt));
      const sensors = g.alerts.map((a) => a.sensorId).sort();
      const shown =
        sensors.slice(0, 8).join(', ') + (sensors.length > 8 ? `, … (${sensors.length - 8} more)` : '');
      li.append(
        el('span', `sev-${g.severity}`, g.severity),
        el('span', 'rule', g.ruleId),
        el('span', 'count', `${sensors.length} sensor${sensors.length === 1 ? '' : 's'}`),
        el('span', 'age', `for ${duration(Date.now() - oldest)}`),
        el('span', 'msg', shown),
      );
      return li;
    }),
  );
  $('firing-count').textContent = String(state.open.size);
}

// ---- a timeline of the last hour's episodes, a row per rule ----

const TIMELINE_MS = 3_600_000;

function renderTimeline() {
  const to = Date.now();
  const from = to - TIMELINE_MS;
  const rows = new Map();
  for (const e of state.episodes.values()) {
    if ((e.end ?? to) < from) continue;
    const row = rows.get(e.ruleId) ?? [];
    row.push(e);
    rows.set(e.ruleId, row);
  }
  const pct = (ms) => `${(100 * Math.min(1, Math.max(0, (ms - from) / TIMELINE_MS))).toFixed(3)}%`;
  $('timeline').replaceChildren(
    ...[...rows.keys()].sort().map((ruleId) => {
      const row = el('div', 'timeline-row');
      row.dataset.rule = ruleId;
      const track = el('div', 'track');
      for (const e of rows.get(ruleId)) {
        const bar = el('span', `bar sev-${e.severity}-bar${e.end === undefined ? ' open' : ''}`);
        bar.dataset.sensor = e.sensorId;
        bar.style.left = pct(e.start);
        bar.style.width = `max(3px, calc(${pct(e.end ?? to)} - ${pct(e.start)}))`;
        const until = e.end === undefined ? 'still firing' : new Date(e.end).toISOString();
        bar.title = `${e.sensorId}: ${new Date(e.start).toISOString()} to ${until}`;
        track.append(bar);
      }
      row.append(el('span', 'rule', ruleId), track);
      return row;
    }),
  );
  $('timeline-count').textContent = String([...rows.values()].reduce((n, r) => n + r.length, 0));
}

// ---- cluster view ----

// A partition with nothing to read and no recent checkpoint is idle, not stale: its checkpoint age
// only grows because nothing arrives.
const IDLE_AFTER_MS = 10_000;

// No lag known means no batch has come since the partition was taken: idle as well.
const isIdle = (p) => (p.lag ?? 0) === 0 && (p.checkpointAgeMs ?? 0) > IDLE_AFTER_MS;

function partitionText(p) {
  const name = p.partition.replace(/^.*vigil\./, '');
  if (isIdle(p)) return `${name} ${p.state} · idle`;
  return `${name} ${p.state} · ${p.lag ?? '–'} · ${age(p.checkpointAgeMs)}`;
}

async function refreshCluster() {
  const { nodes, at } = await api('/api/cluster');
  const body = $('nodes');
  body.replaceChildren(
    ...nodes.map((n) => {
      const tr = el('tr');
      tr.dataset.node = n.id;
      const parts = el('td');
      for (const p of n.partitions) {
        const span = el('span', isIdle(p) ? 'part idle' : 'part', partitionText(p));
        span.dataset.partition = p.partition;
        parts.append(span);
      }
      tr.append(
        el('td', '', `${n.id}${n.address ? ` (${n.address})` : ''}`),
        el('td', n.reachable ? 'state-resolved' : 'state-firing', n.reachable ? 'up' : 'unreachable'),
        el('td', '', n.actors ?? '–'),
        el('td', '', (n.logSources ?? []).join(', ') || '–'),
        parts,
      );
      return tr;
    }),
  );
  $('cluster-at').textContent = `as of ${time(at)}`;
  sampleThroughput(nodes, at);
}

// ---- throughput and lag over time (sampled from the cluster view while the page is open) ----

const HISTORY = 300; // samples: 10 minutes at one every 2 s

function sampleThroughput(nodes, at) {
  const records = nodes.reduce((sum, n) => sum + (n.stats?.records ?? 0), 0);
  const lag = nodes.reduce((sum, n) => sum + n.partitions.reduce((s, p) => s + (p.lag ?? 0), 0), 0);
  const h = (state.history ??= { t: [], rate: [], lag: [], last: undefined });
  // A node that left takes its counter with it: a fall is not negative throughput.
  const rate = h.last === undefined ? 0 : Math.max(0, (records - h.last.records) / ((at - h.last.at) / 1000));
  h.last = { records, at };
  h.t.push(at / 1000);
  h.rate.push(Math.round(rate));
  h.lag.push(lag);
  for (const a of [h.t, h.rate, h.lag]) if (a.length > HISTORY) a.shift();
  const host = $('throughput');
  host.dataset.points = String(h.t.length);
  host.dataset.maxRate = String(Math.max(...h.rate));
  const data = [h.t, h.rate, h.lag];
  if (state.throughput) return state.throughput.setData(data);
  state.throughput = new uPlot(
    {
      width: Math.max(320, host.clientWidth - 10),
      height: 200,
      series: [
        {},
        { label: 'records/s', stroke: '#5fb3ff', width: 2, scale: 'rate' },
        { label: 'lag', stroke: '#ffc857', scale: 'lag' },
      ],
      axes: [
        { stroke: '#7b8794' },
        { stroke: '#7b8794', scale: 'rate' },
        { stroke: '#7b8794', scale: 'lag', side: 1, grid: { show: false } },
      ],
    },
    data,
    host,
  );
}

// ---- one station: its alerts, the rules that judge it, its chart ----

async function focusStation(sensorId) {
  state.station = sensorId;
  $('station-panel').hidden = false;
  $('station-id').textContent = sensorId;
  renderStation();
  const option = [...$('series').options].find((o) => o.value.startsWith(`${sensorId}\u0000`));
  if (option) {
    $('series').value = option.value;
    await refreshChart();
  }
  $('station-panel').scrollIntoView({ block: 'nearest' });
}

function renderStation() {
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
  const applies = (r) =>
    r.kind === 'silence' ||
    metrics.has(r.metric) ||
    state.alerts.some((a) => a.sensorId === id && a.ruleId === r.id);
  $('station-rules').replaceChildren(
    ...(state.rules ?? []).filter(applies).map((r) => {
      const li = el('li', '', `${r.id}: ${vigilRuleForm.describe(r)}`);
      li.dataset.rule = r.id;
      return li;
    }),
  );
}

// ---- event frequencies ----

function bars(list, entries) {
  const max = Math.max(1, ...entries.map(([, v]) => v));
  list.replaceChildren(
    ...entries.map(([name, v]) => {
      const li = el('li');
      const bar = el('span', 'bar');
      bar.style.width = `${Math.max(2, (v / max) * 120)}px`;
      li.append(el('span', '', name), bar, el('span', '', v.toFixed(1)));
      return li;
    }),
  );
}

async function refreshFrequencies() {
  const f = await api('/frequencies');
  const top = (o, n) =>
    Object.entries(o)
      .sort((a, b) => b[1] - a[1])
      .slice(0, n);
  bars($('freq-types'), top(f.types, 12));
  bars($('freq-sensors'), top(f.sensors, 12));
}

// ---- charts of window metrics (uPlot) ----

async function loadSeries() {
  const { series } = await api('/api/series');
  const select = $('series');
  const current = select.value;
  const keys = series.map((s) => `${s.sensorId}\u0000${s.metric}`).sort();
  if (keys.join() === [...select.options].map((o) => o.value).join()) return;
  select.replaceChildren(
    ...keys.map((k) => {
      const [sensor, metric] = k.split('\u0000');
      const o = el('option', '', `${sensor} · ${metric}`);
      o.value = k;
      return o;
    }),
  );
  if (keys.includes(current)) select.value = current;
}

async function refreshChart() {
  const key = $('series').value;
  if (!key) return;
  const [sensor, metric] = key.split('\u0000');
  const minutes = $('minutes').value;
  const q = new URLSearchParams({ sensor, metric, minutes });
  const { points } = await api(`/api/points?${q}`);
  // The time axis is the chosen range, however few minutes have data.
  const to = Date.now() / 1000;
  state.range = [to - Number(minutes) * 60, to];
  const data = [
    points.map((p) => p.t / 1000),
    points.map((p) => p.mean),
    points.map((p) => p.min),
    points.map((p) => p.max),
    points.map((p) => p.p95),
  ];
  const host = $('chart');
  host.dataset.points = String(points.length);
  host.dataset.series = key.replace('\u0000', '.');
  host.dataset.from = String(Math.round(state.range[0]));
  host.dataset.to = String(Math.round(state.range[1]));
  if (state.chart && state.chart.key === key) {
    state.chart.plot.setData(data);
    return;
  }
  state.chart?.plot.destroy();
  const plot = new uPlot(
    {
      width: Math.max(320, host.clientWidth - 10),
      height: 240,
      series: [
        {},
        { label: 'mean', stroke: '#5fb3ff', width: 2, points: { show: true } },
        { label: 'min', stroke: '#5cd685', dash: [4, 4] },
        { label: 'max', stroke: '#ff6b6b', dash: [4, 4] },
        { label: 'p95', stroke: '#ffc857' },
      ],
      scales: { x: { time: true, range: () => state.range } },
      axes: [{ stroke: '#7b8794' }, { stroke: '#7b8794' }],
    },
    data,
    host,
  );
  state.chart = { key, plot };
}

// ---- rules ----

async function refreshRules() {
  const { editable, rules } = await api('/api/rules');
  state.rules = rules;
  $('rules-mode').textContent = editable
    ? '(cluster-wide, editable with an admin token)'
    : '(from the config file)';
  if (editable && state.ruleForm === undefined) {
    $('rule-form').hidden = false;
    state.ruleForm = vigilRuleForm.mount($('rule-form'), saveRule);
  }
  $('rules').replaceChildren(
    ...rules.map((r) => {
      const li = el('li');
      li.dataset.rule = r.id;
      li.title = JSON.stringify(r);
      li.append(
        el('span', `sev-${r.severity ?? 'warning'}`, r.severity ?? 'warning'),
        el('span', 'rule', r.id),
      );
      li.append(el('span', 'msg', `${r.kind}: ${vigilRuleForm.describe(r)}`));
      if (editable) {
        const edit = el('button', '', 'edit');
        edit.addEventListener('click', () => state.ruleForm.edit(r));
        const del = el('button', '', 'delete');
        del.addEventListener('click', () => {
          api(`/api/rules/${encodeURIComponent(r.id)}`, { method: 'DELETE' })
            .then(refreshRules)
            .catch((err) => showError(String(err)));
        });
        li.append(edit, del);
      }
      return li;
    }),
  );
  renderStation();
}

/** Sends a rule from the form; a refusal comes back with the key it is about. */
async function saveRule(spec) {
  try {
    const r = await api('/api/rules', {
      method: 'PUT',
      body: JSON.stringify(spec),
      headers: { 'content-type': 'application/json' },
    });
    await refreshRules();
    return `rule ${r.id} in force (version ${r.version})`;
  } catch (err) {
    const refused = new Error(err.reason || err.message);
    refused.field = err.field;
    throw refused;
  }
}

// ---- start ----

function every(ms, task) {
  const run = () =>
    task().then(
      () => showError(undefined),
      (err) => showError(String(err)),
    );
  void run();
  setInterval(run, ms);
}

async function connect() {
  const conn = $('conn');
  try {
    await api('/api/cluster');
  } catch (err) {
    conn.textContent = 'token refused';
    conn.className = 'badge bad';
    showError(String(err));
    return;
  }
  conn.textContent = 'connected';
  conn.className = 'badge ok';
  showError(undefined);
  void followAlerts();
  every(2_000, refreshCluster);
  // Ages and the timeline move on with the clock.
  setInterval(() => {
    renderFiring();
    renderTimeline();
  }, 1_000);
  every(2_000, refreshFrequencies);
  every(10_000, async () => {
    await loadSeries();
    await refreshChart();
  });
  every(5_000, refreshRules);
  $('series').addEventListener('change', () => void refreshChart());
  $('minutes').addEventListener('change', () => void refreshChart());
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  state.token = $('token').value.trim();
  sessionStorage.setItem('vigil.token', state.token);
  location.reload();
});

if (state.token) void connect();
else $('conn').textContent = 'enter a token';
