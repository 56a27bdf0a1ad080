// The cluster: nodes, their partitions, and throughput and lag over time.
import { $, age, api, el, state, time } from './lib.js';

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

export async function refreshCluster() {
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
