// Health verdicts, fencing, lag tracking and restart back-off: pure agent logic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerFailsafe, checkPrimary, checkReplica, checkSync, type HealthFacts } from '../../src/agent/health-checks.js';
import { confirmRole, isFailsafeQuorum, shouldFence } from '../../src/agent/fence.js';
import { LagTracker } from '../../src/agent/lag-tracker.js';
import { restartBackoffMs } from '../../src/agent/agent-executor.js';
import { status, view } from './decide-fixtures.js';

const facts = (o: Partial<HealthFacts> = {}): HealthFacts => ({ status: status('pg2'), view: view(), confirmation: 'etcd', ...o });
const primaryFacts = (o: Partial<HealthFacts> = {}): HealthFacts =>
  facts({ status: status('pg1', { inRecovery: false, streamingFrom: null }), ...o });

const table: { name: string; got: () => boolean; want: boolean }[] = [
  { name: '/primary on the view primary', got: () => checkPrimary(primaryFacts()).ok, want: true },
  { name: '/primary on a standby', got: () => checkPrimary(facts()).ok, want: false },
  { name: '/primary when the view names another', got: () => checkPrimary(primaryFacts({ view: view({ primary: 'pg2' }) })).ok, want: false },
  { name: '/primary when in recovery', got: () => checkPrimary(primaryFacts({ status: status('pg1', { inRecovery: true }) })).ok, want: false },
  { name: '/primary without lease and quorum', got: () => checkPrimary(primaryFacts({ confirmation: 'none' })).ok, want: false },
  { name: '/primary under failsafe', got: () => checkPrimary(primaryFacts({ confirmation: 'failsafe' })).ok, want: true },
  { name: '/primary while stopping for switchover', got: () => checkPrimary(primaryFacts({ view: view({ switchover: { id: 'x', from: 'pg1', to: 'pg2', phase: 'stopping', startedAt: 0 } }) })).ok, want: false },
  { name: '/replica streaming, no limits', got: () => checkReplica(facts(), { maxLagBytes: null, maxLagMs: null }).ok, want: true },
  { name: '/replica over byte limit', got: () => checkReplica(facts({ status: status('pg2', { lagBytes: 2000 }) }), { maxLagBytes: 1000, maxLagMs: null }).ok, want: false },
  { name: '/replica over time limit', got: () => checkReplica(facts({ status: status('pg2', { lagMs: 70_000 }) }), { maxLagBytes: null, maxLagMs: 60_000 }).ok, want: false },
  { name: '/replica unknown lag with a limit', got: () => checkReplica(facts({ status: status('pg2', { lagMs: null }) }), { maxLagBytes: null, maxLagMs: 60_000 }).ok, want: false },
  { name: '/replica not streaming', got: () => checkReplica(facts({ status: status('pg2', { streamingFrom: null }) }), { maxLagBytes: null, maxLagMs: null }).ok, want: false },
  { name: '/sync on the sync standby', got: () => checkSync(facts()).ok, want: true },
  { name: '/sync on an async standby', got: () => checkSync(facts({ status: status('pg3') })).ok, want: false },
  { name: 'failsafe agrees with the same view', got: () => answerFailsafe(facts(), 'pg1', 5).ok, want: true },
  { name: 'failsafe refuses another primary', got: () => answerFailsafe(facts(), 'pg3', 5).ok, want: false },
  { name: 'failsafe refuses an older asker', got: () => answerFailsafe(facts(), 'pg1', 4).ok, want: false },
  { name: 'failsafe refuses when we stream from someone else', got: () => answerFailsafe(facts({ status: status('pg2', { streamingFrom: 'pg3' }) }), 'pg1', 5).ok, want: false },
  { name: 'quorum 1 of 2 peers in 3', got: () => isFailsafeQuorum(1, 3), want: true },
  { name: 'quorum 0 of 2 peers in 3', got: () => isFailsafeQuorum(0, 3), want: false },
  { name: 'quorum 1 of 3 peers in 4', got: () => isFailsafeQuorum(1, 4), want: false },
];
for (const c of table) test(`agent health: ${c.name}`, () => assert.equal(c.got(), c.want));

test('confirmRole: etcd, then failsafe, then none', () => {
  const base = { now: 10_000, lastEtcdOkAt: 9_000, lastFailsafeOkAt: Number.NEGATIVE_INFINITY, fenceAfterMs: 2000 };
  assert.equal(confirmRole(base), 'etcd');
  assert.equal(confirmRole({ ...base, lastEtcdOkAt: 1_000, lastFailsafeOkAt: 9_500 }), 'failsafe');
  assert.equal(confirmRole({ ...base, lastEtcdOkAt: 1_000 }), 'none');
});

test('lag tracker: age of the oldest unreplayed WAL', () => {
  const t = new LagTracker();
  t.sample('0/100', 1000);
  t.sample('0/200', 2000);
  t.sample('0/300', 3000);
  assert.equal(t.lagMs('0/300', 5000), 0);
  assert.equal(t.lagMs('0/150', 5000), 3000);
  assert.equal(t.lagMs('0/50', 5000), 4000);
  assert.equal(t.lagMs(null, 5000), null);
  t.sample('0/10', 6000); // new timeline: restart the history
  assert.equal(t.latest(), '0/10');
});

test('restart back-off grows and caps', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 9].map(restartBackoffMs), [0, 500, 1000, 2000, 4000, 5000]);
});

test('shouldFence: only on fresh failed attempts after the confirmation expired', () => {
  const NEG = Number.NEGATIVE_INFINITY;
  const base = { now: 10_000, lastEtcdOkAt: 5_000, lastFailsafeOkAt: NEG, fenceAfterMs: 2000, lastEtcdFailAt: NEG, lastFailsafeFailAt: NEG };
  const table: [string, Partial<typeof base>, boolean][] = [
    ['stalled agent, no attempt since: no fence', {}, false],
    ['etcd failed but no failsafe round yet', { lastEtcdFailAt: 9_000 }, false],
    ['etcd and failsafe failed after the last success: fence', { lastEtcdFailAt: 9_000, lastFailsafeFailAt: 9_100 }, true],
    ['failures older than the last success do not count', { lastEtcdFailAt: 4_000, lastFailsafeFailAt: 4_100 }, false],
    ['still confirmed by etcd', { now: 6_000, lastEtcdFailAt: 5_500, lastFailsafeFailAt: 5_600 }, false],
    ['confirmed by failsafe', { lastFailsafeOkAt: 9_500, lastEtcdFailAt: 9_000, lastFailsafeFailAt: 9_100 }, false],
  ];
  for (const [name, o, want] of table) assert.equal(shouldFence({ ...base, ...o }), want, name);
});

test('reachability: a probe hanging past twice its timeout counts as unreachable since it started', async () => {
  const { AgentState } = await import('../../src/agent/agent.js');
  const s = new AgentState({ cluster: 'main', name: 'pg2' } as ConstructorParameters<typeof AgentState>[0]);
  const rows: { name: string; reachable: boolean | null; since: number | null; started: number | null; now: number; want: { reachable: boolean | null; unreachableSince: number | null } }[] = [
    { name: 'no probe in flight: the last verdict', reachable: true, since: null, started: null, now: 10_000, want: { reachable: true, unreachableSince: null } },
    { name: 'probe in flight within bound: the last verdict', reachable: true, since: null, started: 9_500, now: 10_000, want: { reachable: true, unreachableSince: null } },
    { name: 'probe hanging: unreachable since it started', reachable: true, since: null, started: 9_000, now: 10_000, want: { reachable: false, unreachableSince: 9_000 } },
    { name: 'hanging after earlier failures: the earlier start counts', reachable: false, since: 8_000, started: 9_000, now: 10_000, want: { reachable: false, unreachableSince: 8_000 } },
  ];
  for (const r of rows) {
    s.primaryReachable = r.reachable;
    s.unreachableSince = r.since;
    s.probeStartedAt = r.started;
    assert.deepEqual(s.reachability(r.now), r.want, r.name);
  }
});
