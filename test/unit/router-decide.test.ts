// The router's pure parts: when to push the view to HAProxy (table), backend and pool
// summaries, and the status description of routers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideRouterPause, decideRouterPush, describeBackends, routingTargetOf, summarizePools, type PushedState } from '../../src/routing/router-decide.js';
import { describeRouters, renderRouters } from '../../src/cli/describe-routers.js';
import type { HaproxyServerState } from '../../src/routing/haproxy-admin.js';
import type { PoolRow } from '../../src/routing/pgbouncer-admin.js';
import type { RouterStatus } from '../../src/domain/router-status.js';
import type { ClusterView, MemberStatus } from '../../src/domain/types.js';
import { primaryStatus, status, view } from './decide-fixtures.js';

const promoted = [primaryStatus(), status('pg2'), status('pg3')];
const pushedPg1: PushedState = { primary: 'pg1', primaryReady: true, haproxyPid: 10 };

const table: { name: string; view: ClusterView | null; members: MemberStatus[]; last: PushedState | null; haproxyPid: number | null; push: boolean; ready?: boolean; reason: RegExp }[] = [
  { name: 'no view yet', view: null, members: [], last: null, haproxyPid: 10, push: false, reason: /names no primary/ },
  { name: 'HAProxy not running', view: view(), members: promoted, last: null, haproxyPid: null, push: false, reason: /not running/ },
  { name: 'first pass pushes', view: view(), members: promoted, last: null, haproxyPid: 10, push: true, ready: true, reason: /first push: primary pg1 \(promoted\)/ },
  { name: 'nothing changed: no push (checks stay in charge)', view: view(), members: promoted, last: pushedPg1, haproxyPid: 10, push: false, reason: /already routes rw to pg1/ },
  {
    name: 'failover: new primary named, not promoted yet', view: view({ primary: 'pg2', generation: 6 }),
    members: [status('pg2', { streamingFrom: null }), status('pg3')], last: pushedPg1, haproxyPid: 10, push: true, ready: false, reason: /primary changed pg1 -> pg2 \(not promoted yet\)/,
  },
  {
    name: 'new primary promoted', view: view({ primary: 'pg2', generation: 6 }),
    members: [status('pg2', { inRecovery: false, streamingFrom: null }), status('pg3')], last: { primary: 'pg2', primaryReady: false, haproxyPid: 10 },
    haproxyPid: 10, push: true, ready: true, reason: /pg2 is promoted/,
  },
  { name: 'HAProxy restarted: push again', view: view(), members: promoted, last: pushedPg1, haproxyPid: 11, push: true, ready: true, reason: /HAProxy restarted \(pid 10 -> 11\)/ },
  { name: 'primary status vanished (lease expired): not ready', view: view(), members: [status('pg2')], last: pushedPg1, haproxyPid: 10, push: true, ready: false, reason: /no longer ready/ },
  { name: 'fenced primary is not ready', view: view(), members: [primaryStatus({ fenced: true })], last: pushedPg1, haproxyPid: 10, push: true, ready: false, reason: /no longer ready/ },
  { name: 'unhealthy primary is not ready', view: view(), members: [primaryStatus({ healthy: false })], last: pushedPg1, haproxyPid: 10, push: true, ready: false, reason: /no longer ready/ },
];

describe('decideRouterPush', () => {
  for (const t of table) {
    it(t.name, () => {
      const d = decideRouterPush(t.view, t.members, t.last, t.haproxyPid);
      assert.equal(d.push, t.push, d.reason);
      assert.match(d.reason, t.reason);
      if (t.ready !== undefined) assert.equal(d.target.primaryReady, t.ready);
    });
  }
  it('targets the view primary only', () => {
    assert.deepEqual(routingTargetOf(view({ primary: null }), promoted), { primary: null, primaryReady: false });
    assert.deepEqual(routingTargetOf(view(), promoted), { primary: 'pg1', primaryReady: true });
  });
});

const server = (backend: string, name: string, op: number, admin: number): HaproxyServerState => ({ backend, server: name, addr: '127.0.0.1', port: 5432, opState: op, adminState: admin, checkResult: 0 });

describe('router summaries', () => {
  it('describes backends: up, down, maint (forced or inherited), fallback servers', () => {
    const b = describeBackends([server('rw', 'pg1', 2, 0), server('rw', 'pg2', 0, 1), server('ro', 'pg3', 0, 0), server('ro', 'pg1-primary', 2, 0), server('ro', 'pg2-primary', 0, 2)]);
    assert.deepEqual(b.map((x) => [x.proxy, x.member, x.backup, x.state]), [
      ['rw', 'pg1', false, 'up'], ['rw', 'pg2', false, 'maint'], ['ro', 'pg3', false, 'down'], ['ro', 'pg1', true, 'up'], ['ro', 'pg2', true, 'maint'],
    ]);
  });
  it('sums application pools, leaving out the console', () => {
    const row = (database: string, o: Partial<PoolRow>): PoolRow => ({ database, user: 'app', clActive: 0, clWaiting: 0, svActive: 0, svIdle: 0, svUsed: 0, svTested: 0, svLogin: 0, maxwaitUs: 0, poolMode: 'transaction', ...o });
    const s = summarizePools([row('app', { clActive: 3, clWaiting: 2, svActive: 1, maxwaitUs: 1_500_000 }), row('app_ro', { clActive: 1, svIdle: 4 }), row('pgbouncer', { clActive: 9 })]);
    assert.deepEqual(s, { clientsActive: 4, clientsWaiting: 2, serversActive: 1, serversIdle: 4, serversUsed: 0, maxWaitMs: 1500 });
  });
  it('describes routers for status: endpoints up, fallback, waiting clients', () => {
    const pools = { clientsActive: 5, clientsWaiting: 1, serversActive: 2, serversIdle: 3, serversUsed: 0, maxWaitMs: 12 };
    const r: RouterStatus = {
      id: 'rt1', cluster: 'main', pid: 1, at: 1000, seq: 1, listen: { address: '127.0.0.1', rwPort: 1, roPort: 2, poolerPort: 3 },
      haproxy: { pid: 7, backends: describeBackends([server('rw', 'pg1', 2, 0), server('ro', 'pg2', 0, 0), server('ro', 'pg1-primary', 2, 0)]) },
      poolers: [{ index: 0, pid: 8, ...pools, error: null }, { index: 1, pid: null, ...pools, error: 'not running' }], pools,
      lastPush: { at: 500, primary: 'pg1', primaryReady: true, reason: 'first push', commands: [] }, restarts: { haproxy: 0, poolers: 1 }, activity: 'ok', lastError: null,
    };
    const [d] = describeRouters([r], 3000);
    assert.ok(d);
    assert.deepEqual(d.rwUp, ['pg1']);
    assert.deepEqual(d.roUp, ['pg1 (primary fallback)']);
    assert.equal(d.waitingClients, 1);
    assert.deepEqual(d.poolerPids, [8, null]);
    assert.equal(d.ageMs, 2000);
    const text = renderRouters([d]).join('\n');
    assert.match(text, /rt1 +pg1 +pg1 \(primary fallback\) +5\/1/);
    assert.match(text, /pgbouncer 8\/DOWN/);
    assert.match(renderRouters([]).join('\n'), /none publishing/);
  });
});

describe('decideRouterPause', () => {
  const so = (phase: 'sync-target' | 'pausing' | 'stopping') => ({ id: 's1', from: 'pg1', to: 'pg2', phase, startedAt: 0 });
  const paused = (state: 'pausing' | 'paused' | 'failed' = 'paused', id = 's1') => ({ switchoverId: id, state, since: 1000, error: state === 'failed' ? 'x' : null });
  const done = { id: 's1', kind: 'switchover' as const, result: 'done' as const, message: '', at: 0 };
  const aborted = { ...done, result: 'aborted' as const };
  const rows: { name: string; view: ClusterView | null; pause: ReturnType<typeof paused> | null; pushed: PushedState | null; now?: number; want: string; why?: RegExp }[] = [
    { name: 'nothing going on', view: view(), pause: null, pushed: pushedPg1, want: 'none' },
    { name: 'sync-target: not yet', view: view({ switchover: so('sync-target') }), pause: null, pushed: pushedPg1, want: 'none' },
    { name: 'pausing: pause', view: view({ switchover: so('pausing') }), pause: null, pushed: pushedPg1, want: 'pause' },
    { name: 'stopping without our pause (router restarted): do not pause late', view: view({ switchover: so('stopping') }), pause: null, pushed: pushedPg1, want: 'none' },
    { name: 'stopping: hold', view: view({ switchover: so('stopping') }), pause: paused(), pushed: pushedPg1, want: 'none', why: /holding/ },
    { name: 'held too long: resume', view: view({ switchover: so('stopping') }), pause: paused(), pushed: pushedPg1, now: 20_000, want: 'resume', why: /longer than/ },
    { name: 'promoted in the view but HAProxy not pushed ready yet: keep waiting', view: view({ primary: 'pg2', lastCommand: done }), pause: paused(), pushed: { primary: 'pg2', primaryReady: false, haproxyPid: 10 }, want: 'none', why: /waiting for HAProxy/ },
    { name: 'promoted and HAProxy routes rw there: resume', view: view({ primary: 'pg2', lastCommand: done }), pause: paused(), pushed: { primary: 'pg2', primaryReady: true, haproxyPid: 10 }, want: 'resume', why: /routes rw to pg2/ },
    { name: 'aborted: resume at once', view: view({ lastCommand: aborted }), pause: paused(), pushed: null, want: 'resume', why: /aborted/ },
    { name: 'failed pause while the switchover runs: wait for the abort', view: view({ switchover: so('pausing') }), pause: paused('failed'), pushed: pushedPg1, want: 'none' },
    { name: 'failed pause after the switchover: clear', view: view({ lastCommand: aborted }), pause: paused('failed'), pushed: pushedPg1, want: 'resume' },
    { name: 'pause of an older switchover while a new one runs: resume first', view: view({ switchover: so('pausing') }), pause: paused('paused', 's0'), pushed: pushedPg1, want: 'resume' },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const a = decideRouterPause(r.view, r.pause, r.pushed, r.now ?? 2000, 15_000);
      assert.equal(a.kind, r.want, JSON.stringify(a));
      if (r.why) assert.match(a.why, r.why);
    });
  }
});
