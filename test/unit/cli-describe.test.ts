import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCluster, displayRole, renderDescription, type KnownMember } from '../../src/cli/describe.js';
import { assessReadiness } from '../../src/cli/readiness.js';
import type { ClusterSnapshot } from '../../src/store/store.js';
import { defaultSpec, type ClusterView, type MemberStatus } from '../../src/domain/types.js';

function status(name: string, o: Partial<MemberStatus> = {}): MemberStatus {
  return {
    name, host: '127.0.0.1', port: 6000 + Number(name.slice(2)), apiPort: 7000, agentPid: 100, postgresPid: 200,
    seq: 1, at: 0, viewGeneration: 1, postgres: 'running', healthy: true, inRecovery: true, timeline: 1,
    systemId: '1', lsn: '0/3000000', flushLsn: null, receiveLsn: null, replayLsn: null, lagBytes: 0, lagMs: 0,
    appliedSync: null, replication: [], streamingFrom: 'pg1', primaryReachable: true, primaryUnreachableForMs: 0,
    fenced: false, restartAttempts: 0, downForMs: null, rejoin: null, activity: 'streaming', lastError: null, ...o,
  };
}

function view(o: Partial<ClusterView> = {}): ClusterView {
  return {
    generation: 3, primary: 'pg1', primarySince: 0, timeline: 1, syncStandbys: ['pg2'], syncConfirmed: ['pg2'], syncChange: null,
    unreplicated: false, switchover: null, lastCommand: null, reason: 'pg1 is primary', updatedAt: 0, ...o,
  };
}

function snap(members: MemberStatus[], v: ClusterView | null = view()): ClusterSnapshot {
  return { spec: defaultSpec('main'), view: v, viewRevision: '5', command: null, members, coordinatorLeader: 'co1' };
}

const primary = status('pg1', { inRecovery: false, streamingFrom: null, activity: 'primary' });
const known: KnownMember[] = ['pg1', 'pg2', 'pg3'].map((name, i) => ({ name, host: '127.0.0.1', port: 5001 + i }));

const roleCases: Array<{ what: string; s: MemberStatus | undefined; v?: ClusterView | null; role: string }> = [
  { what: 'no status key', s: undefined, role: 'down' },
  { what: 'healthy primary', s: primary, role: 'primary' },
  { what: 'view primary still in recovery', s: status('pg1', { inRecovery: true, streamingFrom: null }), role: 'starting' },
  { what: 'view primary in recovery unknown', s: status('pg1', { inRecovery: null }), role: 'starting' },
  { what: 'sync standby streaming from primary', s: status('pg2'), role: 'sync' },
  { what: 'sync standby streaming from elsewhere', s: status('pg2', { streamingFrom: 'pg3' }), role: 'starting' },
  { what: 'async standby', s: status('pg3'), role: 'async' },
  { what: 'standby not streaming', s: status('pg3', { streamingFrom: null }), role: 'starting' },
  { what: 'crashed postgres', s: status('pg3', { healthy: false, postgres: 'crashed' }), role: 'down' },
  { what: 'stopped postgres', s: status('pg3', { healthy: false, postgres: 'stopped' }), role: 'down' },
  { what: 'cloning', s: status('pg3', { healthy: false, postgres: 'cloning' }), role: 'starting' },
  { what: 'rewinding', s: status('pg3', { healthy: false, postgres: 'rewinding' }), role: 'starting' },
  { what: 'initializing', s: status('pg1', { healthy: false, postgres: 'initializing' }), role: 'starting' },
  { what: 'rejoin running while stopped', s: status('pg3', { healthy: false, postgres: 'stopped', rejoin: { method: 'rewind', reason: 'x', result: 'running', at: 0 } }), role: 'starting' },
  { what: 'rejoin failed and stopped', s: status('pg3', { healthy: false, postgres: 'stopped', rejoin: { method: 'rewind', reason: 'x', result: 'failed', at: 0 } }), role: 'down' },
  { what: 'healthy but no view yet', s: primary, v: null, role: 'starting' },
  { what: 'healthy but view without primary', s: primary, v: view({ primary: null, syncStandbys: [] }), role: 'starting' },
  { what: 'old primary still writable', s: status('pg2', { inRecovery: false, streamingFrom: null }), role: 'starting' },
];

for (const c of roleCases) {
  test(`displayRole: ${c.what} -> ${c.role}`, () => {
    const v = c.v === undefined ? view() : c.v;
    assert.equal(displayRole(c.s, snap(c.s ? [c.s] : [], v)), c.role);
  });
}

test('describeCluster: members in known order, extras appended, fields copied', () => {
  const extra = status('pg9', { streamingFrom: null, healthy: false, postgres: 'crashed', lastError: 'boom' });
  const d = describeCluster(snap([status('pg3', { lagBytes: 42, lagMs: 7 }), extra, primary, status('pg2')]), known, 1000);
  assert.deepEqual(d.members.map((m) => [m.name, m.role]), [['pg1', 'primary'], ['pg2', 'sync'], ['pg3', 'async'], ['pg9', 'down']]);
  assert.equal(d.cluster, 'main');
  assert.equal(d.coordinator, 'co1');
  assert.deepEqual(d.view, { generation: 3, primary: 'pg1', syncStandbys: ['pg2'], syncConfirmed: ['pg2'], unreplicated: false, switchover: null, reason: 'pg1 is primary' });
  const pg3 = d.members[2];
  assert.equal(pg3?.lagBytes, 42);
  assert.equal(pg3?.lagMs, 7);
  assert.equal(d.members[3]?.lastError, 'boom');
});

test('describeCluster: a known member without status is down with its state.json address', () => {
  const d = describeCluster(snap([primary]), known, 0);
  const pg2 = d.members.find((m) => m.name === 'pg2');
  assert.equal(pg2?.role, 'down');
  assert.equal(pg2?.port, 5002);
  assert.equal(pg2?.agentPid, null);
  assert.equal(pg2?.postgres, null);
});

test('describeCluster: no view', () => {
  const d = describeCluster(snap([], null), known, 0);
  assert.equal(d.view, null);
  assert.ok(renderDescription(d).includes('view: none yet'));
});

test('describeCluster: switchover age from nowMs, unreplicated and switchover are loud', () => {
  const v = view({ unreplicated: true, switchover: { id: 'x', from: 'pg1', to: 'pg2', phase: 'sync-target', startedAt: 1000 } });
  const d = describeCluster(snap([primary], v), known, 4500);
  assert.deepEqual(d.view?.switchover, { from: 'pg1', to: 'pg2', phase: 'sync-target', forMs: 3500 });
  const text = renderDescription(d);
  assert.match(text, /UNREPLICATED/);
  assert.match(text, /SWITCHOVER IN PROGRESS: pg1 -> pg2/);
  assert.match(text, /reason: pg1 is primary/);
});

test('assessReadiness: ready only when primary writable and all standbys stream from it', () => {
  const names = ['pg1', 'pg2', 'pg3'];
  assert.deepEqual(assessReadiness(null, names), { ready: false, line: 'waiting: etcd' });
  const cloning = status('pg2', { healthy: false, postgres: 'cloning', streamingFrom: null });
  const r1 = assessReadiness(snap([primary, cloning]), names);
  assert.equal(r1.ready, false);
  assert.equal(r1.line, 'waiting: primary pg1 running, pg2 cloning, pg3 starting');
  const r2 = assessReadiness(snap([primary, status('pg2'), status('pg3')]), names);
  assert.equal(r2.ready, true);
  assert.equal(assessReadiness(snap([primary, status('pg2'), status('pg3', { streamingFrom: 'pg2' })]), names).ready, false);
  assert.equal(assessReadiness(snap([primary], view({ primary: null })), ['pg1']).ready, false);
});
