// Shared by the dashboard's panels: the page's state, DOM helpers and the API client. Every value
// from the server is put on the page with textContent (never as HTML). The token stays in this tab's
// sessionStorage and goes out as a bearer token, as the gRPC clients send theirs.

export const $ = (id) => document.getElementById(id);
export const state = {
  token: sessionStorage.getItem('vigil.token') ?? '',
  alerts: [],
  // Open episodes: `ruleId sensorId startedAt` -> the firing alert (resolved ones are removed).
  open: new Map(),
  // Every episode seen: key -> { ruleId, sensorId, severity, start, end (undefined while firing) }.
  episodes: new Map(),
  chart: undefined,
  stream: undefined,
  // The rules in force (the rules panel), and those judging the station shown, with its thresholds.
  rules: undefined,
  station: undefined,
  stationRules: undefined,
};
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = String(text);
  return e;
}

export function showError(message) {
  const p = $('error');
  p.hidden = message === undefined;
  p.textContent = message ?? '';
}

export async function api(path, options = {}) {
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

export const time = (ms) => new Date(ms).toISOString().slice(11, 19);
export const age = (ms) =>
  ms === undefined ? '–' : ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;

export const duration = (ms) => {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
};
