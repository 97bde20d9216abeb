// The run's report as one self-contained HTML page (inline SVG, no scripts, no external
// files): a timeline of faults, each member's role (from the observer) and writability (from
// its prober), each standby's replay lag (from its agent's status), acknowledged and failed
// writes per second; then the checker's verdict, the outage per fault kind and after each
// fault. Pure: report + history in, text out.
import type { ChaosReport } from './harness.js';
import type { History, ObserveSample, ProbeRecord } from './history.js';

const ROLE_COLORS: Record<string, string> = { primary: '#d62728', sync: '#1f77b4', async: '#9ecae1', starting: '#ffbb78', down: '#7f7f7f' };
const PROBE_COLORS: Record<ProbeRecord['o'], string> = { w: '#2ca02c', l: '#ffd700', r: '#c7c7c7', e: '#ff7f0e' };
const PROBE_LABELS: Record<ProbeRecord['o'], string> = { w: 'writable', l: 'committed locally only', r: 'read-only', e: 'error / unreachable' };

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Span {
  from: number;
  to: number;
  key: string;
}

/** Merge consecutive probes of one member with the same outcome into spans. */
export function probeSpans(probes: ProbeRecord[], member: string): Span[] {
  const out: Span[] = [];
  for (const p of probes.filter((x) => x.m === member).sort((a, b) => a.s - b.s)) {
    const last = out[out.length - 1];
    if (last && last.key === p.o && p.s - last.to < 1000) last.to = Math.max(last.to, p.e);
    else out.push({ from: p.s, to: p.e, key: p.o });
  }
  return out;
}

/**
 * Each observer sample holds from its time to the next sample's (the last one to `end`); runs
 * of adjacent samples with the same key merge into one span; samples keyed null are left out.
 */
function sampleSpans<K>(obs: ObserveSample[], end: number, keyOf: (s: ObserveSample) => K | null): { from: number; to: number; key: K }[] {
  const out: { from: number; to: number; key: K }[] = [];
  const sorted = [...obs].sort((a, b) => a.t - b.t);
  sorted.forEach((s, i) => {
    const key = keyOf(s);
    if (key === null) return;
    const to = sorted[i + 1]?.t ?? end;
    const last = out[out.length - 1];
    if (last && last.key === key && last.to === s.t) last.to = to;
    else out.push({ from: s.t, to, key });
  });
  return out;
}

export function roleSpans(obs: ObserveSample[], member: string, end: number): Span[] {
  return sampleSpans(obs, end, (s) => (s.ok ? (s.roles[member] ?? 'down') : 'unknown'));
}

export interface LagSpan {
  from: number;
  to: number;
  bytes: number;
}

/** A member's replay lag over time, from the observer's samples (only where it was known). */
export function lagSpans(obs: ObserveSample[], member: string, end: number): LagSpan[] {
  return sampleSpans(obs, end, (s) => (s.ok ? (s.lagBytes[member] ?? null) : null)).map(({ from, to, key }) => ({ from, to, bytes: key }));
}

function formatBytes(b: number): string {
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${(b / 1024 / 1024).toFixed(1)} MiB`;
}

export function renderReportHtml(report: ChaosReport, h: History): string {
  const members = [...new Set(h.probes.map((p) => p.m))].sort();
  // From just before the workload's start (the deployment's own start-up is not shown).
  const t0 = h.startedAt - 2000;
  const t1 = Math.max(h.endedAt, t0 + 1000);
  const W = 1100;
  const left = 150;
  const x = (t: number) => left + ((t - t0) / (t1 - t0)) * (W - left - 10);
  const rows: string[] = [];
  let y = 20;
  const label = (text: string) => rows.push(`<text x="4" y="${y + 13}" font-size="12">${escapeHtml(text)}</text>`);
  const rect = (fromT: number, to: number, color: string, title: string, height = 16) => {
    const from = Math.max(fromT, t0);
    if (to < from) return;
    rows.push(`<rect x="${x(from).toFixed(1)}" y="${y}" width="${Math.max(0.8, x(to) - x(from)).toFixed(1)}" height="${height}" fill="${color}"><title>${escapeHtml(title)}</title></rect>`);
  };
  // time axis
  const stepS = Math.max(1, Math.ceil((t1 - t0) / 1000 / 12 / 10) * 10);
  for (let s = 0; s * 1000 <= t1 - t0; s += stepS) rows.push(`<line x1="${x(t0 + s * 1000)}" y1="10" x2="${x(t0 + s * 1000)}" y2="9999" stroke="#eee"/><text x="${x(t0 + s * 1000) + 2}" y="12" font-size="10" fill="#666">${s}s</text>`);
  y += 4;
  label('faults');
  for (const f of h.faults) {
    const end = f.healedAt ?? f.at + 300;
    rect(f.at, end, '#9467bd', `#${f.seq} ${f.name}: ${f.target}`);
    if (f.recoveredAt) rect(end, f.recoveredAt, '#dbc6eb', `#${f.seq} recovering`);
    rows.push(`<text x="${x(f.at) + 2}" y="${y + 28}" font-size="10">#${f.seq} ${escapeHtml(f.name)}</text>`);
  }
  y += 38;
  for (const m of members) {
    label(`${m} role`);
    for (const s of roleSpans(h.observations, m, t1)) rect(s.from, s.to, ROLE_COLORS[s.key] ?? '#fff', `${m}: ${s.key}`);
    y += 20;
    label(`${m} writable?`);
    for (const s of probeSpans(h.probes, m)) rect(s.from, s.to, PROBE_COLORS[s.key as ProbeRecord['o']], `${m}: ${PROBE_LABELS[s.key as ProbeRecord['o']]}`);
    y += 20;
    // Replay lag on a log scale: 1 KiB is a sliver, maxLag the full 16 px.
    label(`${m} lag`);
    const spans = lagSpans(h.observations, m, t1).filter((s) => s.bytes > 0);
    const scale = Math.log2(1 + Math.max(1024, ...spans.map((s) => s.bytes)) / 1024);
    for (const s of spans) {
      const hh = Math.max(1, (Math.log2(1 + s.bytes / 1024) / scale) * 16);
      const from = Math.max(s.from, t0);
      if (s.to < from) continue;
      rows.push(`<rect x="${x(from).toFixed(1)}" y="${(y + 16 - hh).toFixed(1)}" width="${Math.max(0.8, x(s.to) - x(from)).toFixed(1)}" height="${hh.toFixed(1)}" fill="#8c564b"><title>${escapeHtml(`${m}: replay lag ${formatBytes(s.bytes)}`)}</title></rect>`);
    }
    y += 24;
  }
  label('acks / s');
  const buckets = new Map<number, { ok: number; fail: number }>();
  for (const a of h.acks) {
    const b = Math.floor((a.e - t0) / 1000);
    const c = buckets.get(b) ?? { ok: 0, fail: 0 };
    if (a.ok) c.ok += 1;
    else c.fail += 1;
    buckets.set(b, c);
  }
  let peak = 1;
  for (const c of buckets.values()) peak = Math.max(peak, c.ok);
  for (const [b, c] of buckets) {
    if (b < 0) continue;
    const from = t0 + b * 1000;
    const hOk = (c.ok / peak) * 40;
    rows.push(`<rect x="${x(from).toFixed(1)}" y="${(y + 40 - hOk).toFixed(1)}" width="${Math.max(0.8, x(from + 1000) - x(from)).toFixed(1)}" height="${hOk.toFixed(1)}" fill="#2ca02c"><title>${c.ok} acknowledged, ${c.fail} failed</title></rect>`);
    if (c.fail > 0) rows.push(`<rect x="${x(from).toFixed(1)}" y="${y + 42}" width="${Math.max(0.8, x(from + 1000) - x(from)).toFixed(1)}" height="${Math.min(14, 2 + c.fail)}" fill="#d62728"><title>${c.fail} failed</title></rect>`);
  }
  y += 62;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y + 10}" font-family="sans-serif">${rows.join('')}</svg>`.replace('y2="9999"', `y2="${y}"`).replace(/y2="9999"/g, `y2="${y}"`);
  const c = report.check;
  const legend = [
    ...Object.entries(ROLE_COLORS).map(([k, v]) => `<span style="background:${v}">&nbsp;&nbsp;&nbsp;</span> ${k}`),
    ...Object.entries(PROBE_COLORS).map(([k, v]) => `<span style="background:${v}">&nbsp;&nbsp;&nbsp;</span> ${PROBE_LABELS[k as ProbeRecord['o']]}`),
    '<span style="background:#8c564b">&nbsp;&nbsp;&nbsp;</span> replay lag behind the primary (log scale, hover for bytes)',
  ].join(' &nbsp; ');
  const faultRows = (c?.faults ?? []).map((f) => {
    const rec = h.faults.find((x) => x.seq === f.seq);
    return `<tr><td>${f.seq}</td><td>${escapeHtml(f.name)}</td><td>${escapeHtml(f.target)}</td><td>${rec?.healedAt ? ((rec.healedAt - rec.at) / 1000).toFixed(1) : '-'}</td><td>${f.firstAckAfterMs ?? 'none'}</td><td>${f.longestGapMs}</td><td>${rec?.recoveredAt ? ((rec.recoveredAt - rec.at) / 1000).toFixed(1) : 'no'}</td><td>${escapeHtml(rec?.notes.join('; ') ?? '')}</td></tr>`;
  });
  const verdict = report.ok ? '<b style="color:#2ca02c">PASSED</b>' : '<b style="color:#d62728">FAILED</b>';
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Ballast chaos ${escapeHtml(report.scenario)} ${escapeHtml(report.runId)}</title>
<style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px;text-align:left}</style></head>
<body>
<h1>Chaos run ${escapeHtml(report.scenario)}: ${verdict}</h1>
<p>run ${escapeHtml(report.runId)}, seed ${report.seed}, ${new Date(report.startedAt).toISOString()} to ${new Date(report.endedAt).toISOString()} (${Math.round((report.endedAt - report.startedAt) / 1000)} s)</p>
<ul>
<li>acknowledged writes: ${c?.acked ?? '?'}, failed or unknown: ${c?.failed ?? '?'}, lost: ${c?.lost.length ?? '?'}, duplicated: ${c?.duplicated.length ?? '?'}, reordered keys: ${c?.reordered.length ?? '?'}</li>
<li>moments with two writable members: ${c?.splitBrain.length ?? '?'}; probe commits that were only local: ${escapeHtml(JSON.stringify(c?.localOnlyProbes ?? {}))}</li>
<li>write availability (seconds with an acknowledged write): ${c ? (c.availability * 100).toFixed(1) : '?'} %</li>
</ul>
${[...(c?.violations ?? []), ...report.problems].map((v) => `<p style="color:#d62728">${escapeHtml(v)}</p>`).join('\n')}
<p>${legend}</p>
${svg}
<h2>Components that exited on their own</h2>
${report.unexpectedExits.length === 0 ? '<p>none</p>' : report.unexpectedExits.map((u) => `<p><b>${escapeHtml(u.key)}</b> (pid ${u.pid}) at ${Math.round((u.at - report.startedAt) / 1000)} s, restarted after 3 s; end of its log:</p><pre>${escapeHtml(u.logTail)}</pre>`).join('\n')}
<h2>Outage per fault kind</h2>
<p>Longest gap between acknowledged writes from each fault to the next one; nearest-rank percentiles.</p>
<table><tr><th>fault</th><th>count</th><th>p50, ms</th><th>p90, ms</th><th>max, ms</th></tr>
${(c?.outages ?? []).map((r) => `<tr><td>${escapeHtml(r.name)}</td><td>${r.count}</td><td>${r.p50Ms}</td><td>${r.p90Ms}</td><td>${r.maxMs}</td></tr>`).join('\n')}
</table>
<h2>Faults</h2>
<table><tr><th>#</th><th>fault</th><th>target</th><th>held s</th><th>first ack of a write sent after it, ms</th><th>longest gap between acks, ms</th><th>whole again after, s</th><th>notes</th></tr>
${faultRows.join('\n')}
</table>
</body></html>
`;
}
