// The chaos invariant checker on hand-made histories, including broken ones it must reject:
// a lost acknowledged write, a duplicate, a reordering, a phantom, two writable members.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistory, faultOutcomes, findOverlaps, availability, outageDistribution, percentile } from '../../src/chaos/checker.js';
import type { AckRecord, FaultRecord, History, ProbeRecord } from '../../src/chaos/history.js';

const ack = (k: string, id: number, s: number, e: number, ok = true): AckRecord => ({ k, id, s, e, ok });
const probe = (m: string, s: number, e: number, o: ProbeRecord['o'] = 'w', x?: number): ProbeRecord => ({ m, s, e, o, ...(x === undefined ? {} : { x }) });

function history(over: Partial<History>): History {
  return {
    acks: [ack('a', 1, 0, 10), ack('a', 2, 20, 30), ack('b', 3, 5, 15), ack('b', 4, 40, 50, false)],
    probes: [probe('pg1', 0, 5), probe('pg1', 100, 105), probe('pg2', 0, 5, 'r'), probe('pg2', 110, 120, 'w')],
    observations: [],
    faults: [],
    final: { t: 200, rows: [{ k: 'a', ids: [1, 2] }, { k: 'b', ids: [3] }] },
    startedAt: 0,
    endedAt: 200,
    ...over,
  };
}

const cases: { name: string; h: Partial<History>; ok: boolean; expect: RegExp | null; check?: (r: ReturnType<typeof checkHistory>) => void }[] = [
  { name: 'clean history passes', h: {}, ok: true, expect: null },
  { name: 'an unacknowledged write may be present', h: { final: { t: 200, rows: [{ k: 'a', ids: [1, 2] }, { k: 'b', ids: [3, 4] }] } }, ok: true, expect: null },
  {
    name: 'lost acknowledged write', h: { final: { t: 200, rows: [{ k: 'a', ids: [1] }, { k: 'b', ids: [3] }] } }, ok: false, expect: /1 acknowledged write\(s\) lost \(ids 2\)/,
    check: (r) => assert.deepEqual(r.lost, [2]),
  },
  { name: 'acknowledged write under another key is lost', h: { final: { t: 200, rows: [{ k: 'a', ids: [1] }, { k: 'b', ids: [3, 2] }] } }, ok: false, expect: /lost \(ids 2\)/ },
  { name: 'duplicate id', h: { final: { t: 200, rows: [{ k: 'a', ids: [1, 2, 2] }, { k: 'b', ids: [3] }] } }, ok: false, expect: /present more than once \(2\)/ },
  { name: 'phantom id', h: { final: { t: 200, rows: [{ k: 'a', ids: [1, 2, 99] }, { k: 'b', ids: [3] }] } }, ok: false, expect: /never sent \(99\)/ },
  { name: 'order differs from acknowledgement order', h: { final: { t: 200, rows: [{ k: 'a', ids: [2, 1] }, { k: 'b', ids: [3] }] } }, ok: false, expect: /key a: ids 2 out of acknowledgement order/ },
  {
    name: 'two members writable at once', h: { probes: [probe('pg1', 0, 50), probe('pg2', 40, 60)] }, ok: false, expect: /two writable members: pg1 and pg2/,
    check: (r) => assert.deepEqual(r.splitBrain.map((o) => [o.from, o.to]), [[40, 50]]),
  },
  { name: 'local-only commits are not writability', h: { probes: [probe('pg1', 0, 50), probe('pg2', 40, 60, 'l')] }, ok: true, expect: null, check: (r) => assert.deepEqual(r.localOnlyProbes, { pg2: 1 }) },
  { name: 'back-to-back primaries do not overlap', h: { probes: [probe('pg1', 0, 50), probe('pg2', 51, 60)] }, ok: true, expect: null },
  { name: 'executed-at narrows a slow probe', h: { probes: [probe('pg1', 0, 50), probe('pg2', 10, 70, 'w', 55)] }, ok: true, expect: null },
  { name: 'final read failed', h: { final: { t: 200, error: 'timeout' } }, ok: false, expect: /could not be read: timeout/ },
  { name: 'nothing acknowledged', h: { acks: [], final: { t: 200, rows: [] } }, ok: false, expect: /no write was acknowledged/ },
];

for (const c of cases) {
  test(`checkHistory: ${c.name}`, () => {
    const r = checkHistory(history(c.h));
    assert.equal(r.ok, c.ok, r.violations.join('; '));
    if (c.expect) assert.ok(r.violations.some((v) => c.expect!.test(v)), r.violations.join('; '));
    c.check?.(r);
  });
}

test('findOverlaps: same member never overlaps itself; three members', () => {
  assert.deepEqual(findOverlaps([probe('pg1', 0, 10), probe('pg1', 5, 15)]), []);
  const o = findOverlaps([probe('pg1', 0, 100), probe('pg2', 10, 20), probe('pg3', 90, 95)]);
  assert.deepEqual(o.map((x) => `${x.a}/${x.b}`), ['pg1/pg2', 'pg1/pg3']);
});

test('faultOutcomes: outage until a write sent after the fault is acknowledged; longest gap', () => {
  const acks = [ack('a', 1, 0, 10), ack('a', 2, 95, 1200), ack('a', 3, 1210, 1220), ack('a', 4, 1300, 1310), ack('a', 5, 2000, 2010)];
  const faults: FaultRecord[] = [
    { seq: 1, name: 'isolate-primary', target: 'p1', at: 100, healedAt: 900, notes: [] },
    { seq: 2, name: 'switchover', target: 'pg2', at: 1500, healedAt: null, notes: [] },
  ];
  const r = faultOutcomes(faults, acks, 2100);
  assert.deepEqual(r.map((x) => [x.seq, x.firstAckAfterMs, x.longestGapMs]), [[1, 1120, 1100], [2, 510, 510]]);
});

test('availability: share of seconds with an acknowledgement', () => {
  assert.equal(availability([ack('a', 1, 0, 0), ack('a', 2, 0, 1500), ack('a', 3, 0, 3500)], 4000), 0.75);
  assert.equal(availability([], 1000), 0);
});

test('checkHistory copes with a soak-sized history (no argument-spreading limits)', () => {
  const acks: AckRecord[] = [];
  const ids: number[] = [];
  for (let i = 1; i <= 300_000; i++) {
    acks.push(ack('k', i, i, i + 1));
    ids.push(i);
  }
  const r = checkHistory(history({ acks, final: { t: 400_000, rows: [{ k: 'k', ids }] }, endedAt: 400_000 }));
  assert.equal(r.ok, true, r.violations.join('; '));
  assert.equal(r.acked, 300_000);
});

test('outage distribution: nearest-rank percentiles per fault kind, then all', () => {
  assert.equal(percentile([], 0.5), 0);
  const table: [number[], number, number][] = [
    [[5], 0.5, 5], [[5], 0.9, 5], [[1, 2], 0.5, 1], [[1, 2, 3], 0.5, 2], [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9, 9], [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 1, 10],
  ];
  for (const [s, p, want] of table) assert.equal(percentile(s, p), want, `${p} of ${s.join(',')}`);
  const o = (name: string, gap: number) => ({ seq: 0, name, target: '', at: 0, firstAckAfterMs: null, longestGapMs: gap });
  assert.deepEqual(outageDistribution([o('kill-agent', 300), o('switchover', 900), o('kill-agent', 100), o('kill-agent', 200)]), [
    { name: 'kill-agent', count: 3, p50Ms: 200, p90Ms: 300, maxMs: 300 },
    { name: 'switchover', count: 1, p50Ms: 900, p90Ms: 900, maxMs: 900 },
    { name: 'all', count: 4, p50Ms: 200, p90Ms: 900, maxMs: 900 },
  ]);
  assert.deepEqual(outageDistribution([]), [{ name: 'all', count: 0, p50Ms: 0, p90Ms: 0, maxMs: 0 }]);
});
