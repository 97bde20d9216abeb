// Table-driven tests of the coordinator's pure decide().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../src/coordinator/decide.js';
import type { ClusterSpec, ClusterView, Decision, Observed } from '../../src/domain/types.js';
import { NOW, obs, observed, primaryDead, primaryStatus, spec, status, view } from './decide-fixtures.js';

interface Case {
  name: string;
  spec?: ClusterSpec;
  observed: Observed;
  view: ClusterView | null;
  now?: number;
  expect: (d: Decision, prev: ClusterView | null) => void;
}

const unchanged = (d: Decision, prev: ClusterView | null) => assert.equal(d.view, prev, `expected no change, reason: ${d.reason}`);
const relaxed: ClusterSpec = { ...spec, syncMode: 'allow-unreplicated' };
const twoSync: ClusterSpec = { ...spec, syncStandbys: 2 };

const cases: Case[] = [
  // --- bootstrap
  { name: 'bootstrap waits while settling', observed: observed({}, { observingSince: NOW - 100 }), view: null,
    expect: (d) => { assert.equal(d.view, null); assert.match(d.reason, /waiting/); } },
  { name: 'bootstrap with no members', observed: observed({ pg1: null, pg2: null, pg3: null }), view: null,
    expect: (d) => assert.equal(d.view, null) },
  { name: 'bootstrap picks the smallest name when nobody has data',
    observed: observed({ pg1: obs(status('pg1', { postgres: 'absent', systemId: null, lsn: null })), pg2: obs(status('pg2', { postgres: 'absent', systemId: null, lsn: null })), pg3: null }),
    view: null, expect: (d) => { assert.equal(d.view?.primary, 'pg1'); assert.equal(d.view?.generation, 1); } },
  { name: 'bootstrap prefers a member with data that is not a standby',
    observed: observed({ pg1: obs(status('pg1', { postgres: 'absent', systemId: null, lsn: null })), pg3: obs(status('pg3', { inRecovery: false })) }),
    view: null, expect: (d) => assert.equal(d.view?.primary, 'pg3') },

  // --- steady state and the synchronous-set protocol
  { name: 'steady cluster: nothing changes', observed: observed(), view: view(), expect: (d, p) => { unchanged(d, p); assert.match(d.reason, /steady/); } },
  { name: 'first synchronous standby chosen by highest LSN, not yet confirmed',
    observed: observed({ pg1: obs(primaryStatus({}, [])) }), view: view({ syncStandbys: [], syncConfirmed: [], unreplicated: true }),
    expect: (d) => {
      assert.deepEqual(d.view?.syncStandbys, ['pg2']);
      assert.deepEqual(d.view?.syncConfirmed, []);
      assert.equal(d.view?.syncChange?.appliedAt, null);
      assert.equal(d.view?.generation, 6);
    } },
  { name: 'primary applied the new set: appliedAt recorded',
    observed: observed(), view: view({ syncConfirmed: [], syncChange: { target: ['pg2'], requestedAt: NOW - 100, appliedAt: null, barrierLsn: null } }),
    expect: (d) => { assert.equal(d.view?.syncChange?.appliedAt, NOW); assert.deepEqual(d.view?.syncConfirmed, []); } },
  { name: 'primary has not applied yet: wait',
    observed: observed({ pg1: obs(primaryStatus({}, [])) }), view: view({ syncConfirmed: [], syncChange: { target: ['pg2'], requestedAt: NOW - 100, appliedAt: null, barrierLsn: null } }),
    expect: (d, p) => { unchanged(d, p); assert.match(d.reason, /waiting for pg1 to apply/); } },
  { name: 'barrier not taken before the apply delay',
    observed: observed(), view: view({ syncConfirmed: [], syncChange: { target: ['pg2'], requestedAt: NOW - 300, appliedAt: NOW - 100, barrierLsn: null } }),
    expect: unchanged },
  { name: 'barrier taken at the primary flush LSN after the delay',
    observed: observed(), view: view({ syncConfirmed: [], syncChange: { target: ['pg2'], requestedAt: NOW - 900, appliedAt: NOW - 600, barrierLsn: null } }),
    expect: (d) => { assert.equal(d.view?.syncChange?.barrierLsn, '0/3000100'); assert.deepEqual(d.view?.syncConfirmed, []); } },
  { name: 'new set confirmed once it flushed past the barrier',
    observed: observed(), view: view({ syncConfirmed: [], syncChange: { target: ['pg2'], requestedAt: NOW - 900, appliedAt: NOW - 600, barrierLsn: '0/3000100' } }),
    expect: (d) => { assert.deepEqual(d.view?.syncConfirmed, ['pg2']); assert.equal(d.view?.syncChange, null); } },
  { name: 'new set not confirmed while behind the barrier',
    observed: observed({ pg1: obs(primaryStatus({}, ['pg2'], { pg2: '0/3000050' })) }),
    view: view({ syncConfirmed: [], syncChange: { target: ['pg2'], requestedAt: NOW - 900, appliedAt: NOW - 600, barrierLsn: '0/3000100' } }),
    expect: (d, p) => { unchanged(d, p); assert.match(d.reason, /waiting for pg2 to flush past/); } },

  // --- losing the synchronous standby
  { name: 'dead sync standby replaced by a streaming async; confirmed set shrinks first',
    observed: observed({ pg2: obs(status('pg2'), { lastChangeAt: NOW - 3000, notStreamingSince: NOW - 2000 }) }), view: view(),
    expect: (d) => { assert.deepEqual(d.view?.syncStandbys, ['pg3']); assert.deepEqual(d.view?.syncConfirmed, []); assert.match(d.reason, /replacing lost synchronous standby pg2/); } },
  { name: 'slow sync standby agent (silent) whose postgres still streams is kept',
    observed: observed({ pg2: obs(status('pg2'), { lastChangeAt: NOW - 1500 }) }), view: view(), expect: unchanged },
  { name: 'sync standby whose status expired is replaced',
    observed: observed({ pg2: null }), view: view(),
    expect: (d) => assert.deepEqual(d.view?.syncStandbys, ['pg3']) },
  { name: 'sync standby briefly not streaming (under syncLossMs) is kept',
    observed: observed({ pg2: obs(status('pg2'), { notStreamingSince: NOW - 100 }) }), view: view(), expect: unchanged },
  { name: 'sync standby not streaming long enough is replaced even with a live agent',
    observed: observed({ pg2: obs(status('pg2', { healthy: false, postgres: 'crashed' }), { notStreamingSince: NOW - 400 }) }), view: view(),
    expect: (d) => assert.deepEqual(d.view?.syncStandbys, ['pg3']) },
  { name: 'strict mode with no other standby: keep waiting on the lost one (writes block)',
    observed: observed({ pg2: null, pg3: null }), view: view(), expect: (d, p) => { unchanged(d, p); assert.match(d.reason, /steady|strict/); } },
  { name: 'allow-unreplicated mode with no standby: drop synchronous replication, nobody promotable',
    spec: relaxed, observed: observed({ pg2: null, pg3: null }), view: view(),
    expect: (d) => { assert.deepEqual(d.view?.syncStandbys, []); assert.deepEqual(d.view?.syncConfirmed, []); assert.equal(d.view?.unreplicated, true); } },
  { name: 'not settled yet: a missing sync standby is not judged lost',
    observed: observed({ pg2: null }, { observingSince: NOW - 100 }), view: view(), expect: unchanged },
  { name: 'right after a failover a re-pointing standby is not lost',
    observed: observed({ pg2: obs(status('pg2', { streamingFrom: null }), { notStreamingSince: NOW - 1000 }) }),
    view: view({ primarySince: NOW - 1000 }), expect: unchanged },
  { name: 'two synchronous standbys configured: both streaming ones are used',
    spec: twoSync, observed: observed(), view: view(),
    expect: (d) => { assert.deepEqual([...(d.view?.syncStandbys ?? [])].sort(), ['pg2', 'pg3']); assert.deepEqual(d.view?.syncConfirmed, ['pg2']); } },

  // --- failover
  { name: 'dead primary: promote the confirmed sync standby even if an async has more WAL',
    observed: primaryDead(), view: view(),
    expect: (d) => {
      assert.equal(d.view?.primary, 'pg2');
      assert.equal(d.view?.generation, 6);
      assert.deepEqual(d.view?.syncStandbys, ['pg3']);
      assert.deepEqual(d.view?.syncConfirmed, []);
      assert.equal(d.view?.primarySince, NOW);
      assert.match(d.reason, /failover: primary pg1 failed: agent silent .* promoting pg2 is a confirmed synchronous standby/);
    } },
  { name: 'dead primary while a standby still reaches its postgres: no failover',
    observed: primaryDead({ pg3: obs(status('pg3', { primaryReachable: true })) }), view: view(),
    expect: (d, p) => { unchanged(d, p); assert.match(d.reason, /pg3 still reach/); } },
  { name: 'unreachable only briefly: no failover yet',
    observed: primaryDead({ pg3: obs(status('pg3', { primaryReachable: false, primaryUnreachableForMs: 100 })) }), view: view(), expect: unchanged },
  { name: 'slow primary: agent silent but its postgres answers standbys: no failover',
    observed: observed({ pg1: obs(primaryStatus(), { lastChangeAt: NOW - 5000 }) }), view: view(), expect: unchanged },
  { name: 'dead primary but coordinator still settling: no failover',
    observed: { ...primaryDead(), observingSince: NOW - 200 }, view: view(), expect: (d, p) => { unchanged(d, p); assert.match(d.reason, /settling/); } },
  { name: 'dead primary, no confirmed sync standby: refuse and say how to force',
    observed: primaryDead(), view: view({ syncConfirmed: [] }),
    expect: (d, p) => { unchanged(d, p); assert.match(d.reason, /NOT failing over.*accept-data-loss/); } },
  { name: 'dead primary in allow-unreplicated mode: refuse',
    observed: primaryDead(), view: view({ syncStandbys: [], syncConfirmed: [], unreplicated: true }),
    expect: (d, p) => { unchanged(d, p); assert.match(d.reason, /allow-unreplicated/); } },
  { name: 'dead primary and dead sync standby: never promote the async',
    observed: primaryDead({ pg2: null }), view: view(), expect: (d, p) => { unchanged(d, p); assert.match(d.reason, /not healthy/); } },
  { name: 'witness on an old view generation does not count',
    observed: primaryDead({ pg2: obs(status('pg2', { viewGeneration: 4, primaryReachable: false, primaryUnreachableForMs: 1000 })), pg3: obs(status('pg3', { viewGeneration: 4, primaryReachable: false, primaryUnreachableForMs: 1000 })) }),
    view: view(), expect: (d, p) => { unchanged(d, p); assert.match(d.reason, /no healthy standby can confirm/); } },
  { name: 'postgres down on a live primary agent: wait for in-place restart',
    observed: primaryDead({ pg1: obs(primaryStatus({ healthy: false, postgres: 'crashed', downForMs: 1000 })) }), view: view(),
    expect: (d, p) => { unchanged(d, p); assert.match(d.reason, /recovering/); } },
  { name: 'postgres cannot be restarted on a live primary agent: failover',
    observed: primaryDead({ pg1: obs(primaryStatus({ healthy: false, postgres: 'crashed', downForMs: 11000, restartAttempts: 4 })) }), view: view(),
    expect: (d) => { assert.equal(d.view?.primary, 'pg2'); assert.match(d.reason, /despite restarts/); } },
  { name: 'postgres in crash recovery past the restart bound but within the recovery bound: wait',
    observed: primaryDead({ pg1: obs(primaryStatus({ healthy: false, postgres: 'starting', downForMs: 8000, restartAttempts: 1 })) }), view: view(),
    expect: (d, p) => unchanged(d, p) },
  { name: 'postgres in crash recovery beyond the recovery bound: failover',
    observed: primaryDead({ pg1: obs(primaryStatus({ healthy: false, postgres: 'starting', downForMs: 21_000, restartAttempts: 1 })) }), view: view(),
    expect: (d) => { assert.equal(d.view?.primary, 'pg2'); assert.match(d.reason, /still in crash recovery/); } },
  { name: 'fenced primary counts as failed', observed: primaryDead({ pg1: obs(primaryStatus({ fenced: true, healthy: false })) }), view: view(),
    expect: (d) => assert.equal(d.view?.primary, 'pg2') },
  { name: 'two confirmed sync standbys: highest LSN wins',
    spec: twoSync, observed: primaryDead(), view: view({ syncStandbys: ['pg2', 'pg3'], syncConfirmed: ['pg2', 'pg3'] }),
    expect: (d) => assert.equal(d.view?.primary, 'pg3') },
  { name: 'strict failover with no other standby lists the old primary as synchronous',
    observed: primaryDead({ pg3: null }), view: view(),
    expect: (d) => { assert.equal(d.view?.primary, 'pg2'); assert.deepEqual(d.view?.syncStandbys, ['pg1']); assert.equal(d.view?.unreplicated, false); } },
];

for (const c of cases) {
  test(`decide: ${c.name}`, () => {
    const d = decide(c.spec ?? spec, c.observed, c.view, c.now ?? NOW);
    assert.ok(d.reason.length > 0, 'every pass has a reason');
    c.expect(d, c.view);
    if (d.view && d.view !== c.view) {
      assert.ok(d.view.syncConfirmed.every((n) => d.view!.syncStandbys.includes(n)), 'syncConfirmed ⊆ syncStandbys');
      assert.ok(!d.view.syncStandbys.includes(d.view.primary ?? ''), 'primary is never its own sync standby');
    }
  });
}

