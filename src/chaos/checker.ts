// The invariant checker (pure): given what the workload, the probers and the harness recorded,
// decide whether the run kept Ballast's promises and measure write availability.
// - lost: an acknowledged write is missing from its list at the end;
// - duplicated: an id appears more than once;
// - phantom: an id that was never sent appears;
// - reordered: within a key, acknowledged ids are not in acknowledgement order;
// - splitBrain: two members' acknowledged probe writes overlap in time (each probe counts as
//   writable from max(sent, executed) to its answer: two overlapping intervals on different
//   members mean both accepted writes at some common instant, as far as the probes can tell);
// - per fault: how long until a write sent after the fault was acknowledged, and the longest
//   gap between acknowledgements until the next fault.
import type { AckRecord, FaultRecord, History, ProbeRecord } from './history.js';

export interface Overlap {
  a: string;
  b: string;
  /** Start of the common instant range. */
  from: number;
  to: number;
}

export interface FaultOutcome {
  seq: number;
  name: string;
  target: string;
  at: number;
  /** From the fault to the acknowledgement of the first write sent after it (null: none). */
  firstAckAfterMs: number | null;
  /** Longest time without any acknowledgement between this fault and the next (or the end). */
  longestGapMs: number;
}

export interface CheckResult {
  ok: boolean;
  violations: string[];
  acked: number;
  failed: number;
  lost: number[];
  duplicated: number[];
  phantom: number[];
  reordered: { k: string; ids: number[] }[];
  splitBrain: Overlap[];
  /** Probe writes that committed only locally (sync wait cancelled): per member. */
  localOnlyProbes: Record<string, number>;
  faults: FaultOutcome[];
  /** Outage (longest gap between acknowledgements after a fault) per fault kind, then "all". */
  outages: OutageRow[];
  /** Share of whole seconds (from the first ack to the end) with at least one acknowledged write. */
  availability: number;
  finalError: string | null;
}

export function writableIntervals(probes: ProbeRecord[]): { m: string; from: number; to: number }[] {
  return probes.filter((p) => p.o === 'w').map((p) => ({ m: p.m, from: Math.max(p.s, p.x ?? p.s), to: p.e }));
}

export function findOverlaps(probes: ProbeRecord[]): Overlap[] {
  const iv = writableIntervals(probes).sort((x, y) => x.from - y.from);
  const out: Overlap[] = [];
  // The interval reaching furthest so far, per member.
  const reach = new Map<string, { from: number; to: number }>();
  for (const i of iv) {
    for (const [m, r] of reach) {
      if (m !== i.m && r.to >= i.from) out.push({ a: m, b: i.m, from: i.from, to: Math.min(r.to, i.to) });
    }
    const cur = reach.get(i.m);
    if (!cur || i.to > cur.to) reach.set(i.m, { from: i.from, to: i.to });
  }
  return out;
}

function byAck(a: AckRecord, b: AckRecord): number {
  return a.e - b.e || a.s - b.s || a.id - b.id;
}

export function faultOutcomes(faults: FaultRecord[], acks: AckRecord[], endedAt: number): FaultOutcome[] {
  const ok = acks.filter((a) => a.ok).sort(byAck);
  const sorted = [...faults].sort((a, b) => a.at - b.at);
  return sorted.map((f, i) => {
    const until = sorted[i + 1]?.at ?? endedAt;
    const first = ok.find((a) => a.s >= f.at);
    let gap = 0;
    let prev = f.at;
    for (const a of ok) {
      if (a.e < f.at) continue;
      if (a.e > until) break;
      gap = Math.max(gap, a.e - prev);
      prev = a.e;
    }
    gap = Math.max(gap, until - prev);
    return { seq: f.seq, name: f.name, target: f.target, at: f.at, firstAckAfterMs: first ? first.e - f.at : null, longestGapMs: gap };
  });
}

export interface OutageRow {
  /** A fault kind, or "all". */
  name: string;
  count: number;
  /** Nearest-rank percentiles of the faults' longest gaps between acknowledgements, ms. */
  p50Ms: number;
  p90Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of ascending `sorted` (p in (0, 1]). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length))) - 1]!;
}

/** The outage distribution per fault kind (by name) and over all faults (last row). */
export function outageDistribution(outcomes: FaultOutcome[]): OutageRow[] {
  const row = (name: string, gaps: number[]): OutageRow => {
    const s = [...gaps].sort((a, b) => a - b);
    return { name, count: s.length, p50Ms: percentile(s, 0.5), p90Ms: percentile(s, 0.9), maxMs: s[s.length - 1] ?? 0 };
  };
  const kinds = [...new Set(outcomes.map((o) => o.name))].sort();
  return [...kinds.map((k) => row(k, outcomes.filter((o) => o.name === k).map((o) => o.longestGapMs))), row('all', outcomes.map((o) => o.longestGapMs))];
}

export function availability(acks: AckRecord[], endedAt: number): number {
  const ok = acks.filter((a) => a.ok).map((a) => a.e);
  if (ok.length === 0) return 0;
  // A loop, not Math.min(...ok): a soak acknowledges more writes than a call takes arguments.
  const start = ok.reduce((m, t) => (t < m ? t : m), Infinity);
  const seconds = Math.max(1, Math.ceil((endedAt - start) / 1000));
  const covered = new Set(ok.map((t) => Math.floor((t - start) / 1000)));
  return Math.min(1, covered.size / seconds);
}

export function checkHistory(h: History): CheckResult {
  const violations: string[] = [];
  const acked = h.acks.filter((a) => a.ok);
  const sent = new Set(h.acks.map((a) => a.id));
  const finalError = h.final === null ? 'no final read of the lists' : 'error' in h.final ? h.final.error : null;
  const rows = h.final && 'rows' in h.final ? h.final.rows : [];
  const position = new Map<number, { k: string; pos: number }>();
  const duplicated: number[] = [];
  const phantom: number[] = [];
  for (const r of rows) {
    r.ids.forEach((id, pos) => {
      if (position.has(id)) duplicated.push(id);
      else position.set(id, { k: r.k, pos });
      if (!sent.has(id)) phantom.push(id);
    });
  }
  const lost: number[] = [];
  const reordered: { k: string; ids: number[] }[] = [];
  if (finalError === null) {
    for (const a of acked) {
      const p = position.get(a.id);
      if (!p || p.k !== a.k) lost.push(a.id);
    }
    const perKey = new Map<string, AckRecord[]>();
    for (const a of acked) {
      const list = perKey.get(a.k);
      if (list) list.push(a);
      else perKey.set(a.k, [a]);
    }
    for (const [k, list] of perKey) {
      let last = -1;
      const bad: number[] = [];
      for (const a of list.sort(byAck)) {
        const p = position.get(a.id);
        if (!p || p.k !== k) continue;
        if (p.pos < last) bad.push(a.id);
        last = Math.max(last, p.pos);
      }
      if (bad.length > 0) reordered.push({ k, ids: bad });
    }
  } else violations.push(`the final state could not be read: ${finalError}`);
  const splitBrain = findOverlaps(h.probes);
  const localOnlyProbes: Record<string, number> = {};
  for (const p of h.probes) if (p.o === 'l') localOnlyProbes[p.m] = (localOnlyProbes[p.m] ?? 0) + 1;
  if (lost.length) violations.push(`${lost.length} acknowledged write(s) lost (ids ${lost.slice(0, 10).join(', ')}${lost.length > 10 ? ', ...' : ''})`);
  if (duplicated.length) violations.push(`${duplicated.length} id(s) present more than once (${duplicated.slice(0, 10).join(', ')})`);
  if (phantom.length) violations.push(`${phantom.length} id(s) present that were never sent (${phantom.slice(0, 10).join(', ')})`);
  for (const r of reordered) violations.push(`key ${r.k}: ids ${r.ids.slice(0, 10).join(', ')} out of acknowledgement order`);
  for (const o of splitBrain.slice(0, 10)) violations.push(`two writable members: ${o.a} and ${o.b} both acknowledged probe writes between ${new Date(o.from).toISOString()} and ${new Date(o.to).toISOString()}`);
  if (splitBrain.length > 10) violations.push(`... ${splitBrain.length - 10} more overlapping writable intervals`);
  if (acked.length === 0) violations.push('no write was acknowledged at all');
  const faults = faultOutcomes(h.faults, h.acks, h.endedAt);
  return {
    ok: violations.length === 0,
    violations,
    acked: acked.length,
    failed: h.acks.length - acked.length,
    lost, duplicated, phantom, reordered, splitBrain, localOnlyProbes,
    faults,
    outages: outageDistribution(faults),
    availability: availability(h.acks, h.endedAt),
    finalError,
  };
}
