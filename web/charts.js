// The charts: window metrics of one series per minute, and the event frequencies (uPlot is a global
// from /assets/uplot.js).
import { $, api, el, state } from './lib.js';

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

export async function refreshFrequencies() {
  const f = await api('/frequencies');
  const top = (o, n) =>
    Object.entries(o)
      .sort((a, b) => b[1] - a[1])
      .slice(0, n);
  bars($('freq-types'), top(f.types, 12));
  bars($('freq-sensors'), top(f.sensors, 12));
}

// ---- charts of window metrics (uPlot) ----

export async function loadSeries() {
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

export async function refreshChart() {
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
