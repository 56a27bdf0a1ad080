// Alerts: the live stream, what is firing now and the timeline of the last hour's episodes.
import { $, duration, el, showError, state } from './lib.js';
import { renderAlert, renderStation } from './station.js';

const MAX_ALERTS = 200;

let timelinePending = false;

/** The timeline drawn again on the next frame: once for a burst of alerts (the last hour's at login). */
function timelineSoon() {
  if (timelinePending) return;
  timelinePending = true;
  requestAnimationFrame(() => {
    timelinePending = false;
    renderTimeline();
  });
}

/** Takes an alert from the stream into the log, the firing view, the timeline and its station. */
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
  timelineSoon();
  state.alerts.unshift(a);
  if (a.sensorId === state.station) renderStation();
  const list = $('alerts');
  list.prepend(renderAlert(a));
  while (list.children.length > MAX_ALERTS) list.lastElementChild.remove();
  $('alert-count').textContent = String(state.alerts.length);
}

/** The alert stream: Server-Sent Events read with fetch (EventSource cannot send a token). */
export async function followAlerts() {
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

export function renderFiring() {
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

export function renderTimeline() {
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
