import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAULT_NAMES, UNSAFE_FAULTS, randomSchedule } from '../../src/chaos/faults.js';
import { createRng } from '../../src/chaos/prng.js';
import { escapeHtml, lagSpans, probeSpans, roleSpans } from '../../src/chaos/report-html.js';
import { lagMagnitude } from '../../src/chaos/history.js';
import { SCENARIOS, findScenario } from '../../src/chaos/scenarios.js';

test('prng: same seed, same sequence; different seeds differ; ranges hold', () => {
  const a = createRng(42);
  const b = createRng(42);
  const xs = Array.from({ length: 50 }, () => a.next());
  assert.deepEqual(xs, Array.from({ length: 50 }, () => b.next()));
  assert.notDeepEqual(xs, Array.from({ length: 50 }, () => createRng(43).next()));
  const r = createRng(7);
  for (let i = 0; i < 1000; i++) {
    const v = r.int(2, 12);
    assert.ok(v >= 2 && v <= 12 && Number.isInteger(v));
  }
});

test('randomSchedule: deterministic per seed, known faults, holds of 2..12 s', () => {
  const s1 = randomSchedule(createRng(5), 200);
  assert.deepEqual(s1, randomSchedule(createRng(5), 200));
  assert.equal(s1.length, 200);
  for (const st of s1) {
    assert.ok((FAULT_NAMES as readonly string[]).includes(st.fault));
    assert.ok(st.holdMs >= 2000 && st.holdMs <= 12000);
  }
  // every fault kind shows up in a long schedule, except the deliberately unsafe ones
  assert.equal(new Set(s1.map((s) => s.fault)).size, FAULT_NAMES.length - UNSAFE_FAULTS.length);
  assert.ok(!s1.some((s) => UNSAFE_FAULTS.includes(s.fault)));
});

test('scenarios: the issue names are all there, each with known faults', () => {
  for (const n of ['primary-isolated', 'sync-isolated', 'partial-partition', 'etcd-quorum-lost', 'primary-frozen', 'primary-disk-full', 'leader-killed-during-failover', 'quick']) {
    assert.ok(findScenario(n), n);
  }
  assert.equal(findScenario('etcd-quorum-lost')?.expectNoFailover, true);
  for (const s of SCENARIOS) for (const st of s.steps) assert.ok((FAULT_NAMES as readonly string[]).includes(st.fault));
});

test('report: escaping and span merging', () => {
  assert.equal(escapeHtml('<a href="x">&</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
  const spans = probeSpans([
    { m: 'pg1', s: 0, e: 5, o: 'w' }, { m: 'pg1', s: 100, e: 110, o: 'w' }, { m: 'pg1', s: 200, e: 2200, o: 'e' }, { m: 'pg2', s: 0, e: 1, o: 'r' },
  ], 'pg1');
  assert.deepEqual(spans, [{ from: 0, to: 110, key: 'w' }, { from: 200, to: 2200, key: 'e' }]);
  const roles = roleSpans([
    { t: 0, ok: true, leader: 'co1', primary: 'pg1', generation: 1, syncStandbys: [], syncConfirmed: [], reason: null, roles: { pg1: 'primary' }, lagBytes: {} },
    { t: 10, ok: true, leader: 'co1', primary: 'pg1', generation: 1, syncStandbys: [], syncConfirmed: [], reason: null, roles: { pg1: 'primary' }, lagBytes: {} },
    { t: 20, ok: false, error: 'etcd down' },
  ], 'pg1', 30);
  assert.deepEqual(roles, [{ from: 0, to: 20, key: 'primary' }, { from: 20, to: 30, key: 'unknown' }]);
});

test('report: replay lag spans and the observer\'s lag magnitude', () => {
  const sample = (t: number, lag: number | null) => ({ t, ok: true as const, leader: 'co1', primary: 'pg1', generation: 1, syncStandbys: [], syncConfirmed: [], reason: null, roles: { pg2: 'sync' }, lagBytes: { pg2: lag } });
  assert.deepEqual(lagSpans([sample(0, 0), sample(10, 0), sample(20, 5000), { t: 30, ok: false, error: 'x' }, sample(40, null), sample(50, 5000)], 'pg2', 60), [
    { from: 0, to: 20, bytes: 0 }, { from: 20, to: 30, bytes: 5000 }, { from: 50, to: 60, bytes: 5000 },
  ]);
  const table: [number | null | undefined, number | null][] = [
    [null, null], [undefined, null], [Number.NaN, null], [0, 0], [65535, 0], [65536, 1], [3 * 65536, 2], [1 << 30, 14], [-5, 0],
  ];
  for (const [bytes, want] of table) assert.equal(lagMagnitude(bytes), want, String(bytes));
});

test('chaos run flags: bad usage is a clear InvalidInputError', async () => {
  const { parseChaosRunFlags } = await import('../../src/cli/chaos-commands.js');
  const bad: [Record<string, string>, RegExp][] = [
    [{ dir: '/tmp/x' }, /either --scenario NAME or --random N/],
    [{ dir: '/tmp/x', scenario: 'quick', random: '3' }, /either --scenario NAME or --random N/],
    [{ dir: '/tmp/x', scenario: 'nope' }, /unknown scenario "nope"; one of: primary-isolated/],
    [{ dir: '/tmp/x', random: '0' }, /--random/],
    [{ dir: '/tmp/x', random: '5', seed: '-1' }, /--seed/],
    [{ scenario: 'quick' }, /--dir/],
  ];
  for (const [flags, msg] of bad) {
    await assert.rejects(parseChaosRunFlags(flags), (e: Error) => e.name === 'InvalidInputError' || /INVALID_INPUT/.test(String((e as { code?: string }).code)) ? msg.test(e.message) : false, JSON.stringify(flags));
  }
  const ok = await parseChaosRunFlags({ dir: '/tmp/x', random: '5', seed: '9' });
  assert.equal(ok.scenario.steps.length, 5);
  assert.equal(ok.seed, 9);
  assert.equal((await parseChaosRunFlags({ dir: '/tmp/x', scenario: 'quick' })).scenario.name, 'quick');
});
