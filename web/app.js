// The Vigil dashboard: plain browser JavaScript modules, one per panel, no framework. This one logs
// in and keeps every panel fresh.
import { followAlerts, renderFiring, renderTimeline } from './alerts.js';
import { loadSeries, refreshChart, refreshFrequencies } from './charts.js';
import { refreshCluster } from './cluster.js';
import { $, api, showError, state } from './lib.js';
import { refreshRules } from './rules.js';
import { focusStation } from './station.js';

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
  // A link to a sensor's view (an Alertmanager alert's generatorURL): #station=<sensor id>.
  const linked = /^#station=(.+)$/.exec(location.hash);
  if (linked) void focusStation(decodeURIComponent(linked[1]));
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  state.token = $('token').value.trim();
  sessionStorage.setItem('vigil.token', state.token);
  location.reload();
});

if (state.token) void connect();
else $('conn').textContent = 'enter a token';
