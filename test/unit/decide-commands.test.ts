// Table-driven tests of operator commands and the switchover state machine in decide().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../src/coordinator/decide.js';
import type { ClusterView, Decision, Observed } from '../../src/domain/types.js';
import { command, NOW, obs, observed, primaryDead, primaryStatus, spec, status, view } from './decide-fixtures.js';

interface Case { name: string; observed: Observed; view: ClusterView; expect: (d: Decision, prev: ClusterView) => void }

const consumed = (d: Decision) => assert.ok(d.actions.some((a) => a.kind === 'consume-command' && a.id === 'c1'), 'command consumed');
const rejected = (re: RegExp) => (d: Decision) => {
  consumed(d);
  assert.equal(d.view?.lastCommand?.result, 'rejected');
  assert.match(d.view?.lastCommand?.message ?? '', re);
  assert.equal(d.view?.primary, 'pg1');
};
const so = (o: Partial<NonNullable<ClusterView['switchover']>> = {}) =>
  ({ id: 'c1', from: 'pg1', to: 'pg3', phase: 'sync-target' as const, startedAt: NOW - 1000, ...o });
const stoppedPrimary = obs(primaryStatus({ postgres: 'stopped', healthy: false, lsn: '0/3000200', inRecovery: null }));

const cases: Case[] = [
  { name: 'switchover to the best standby starts by making it synchronous',
    observed: observed({}, { command: command() }), view: view(),
    expect: (d) => { consumed(d); assert.deepEqual(d.view?.switchover, { id: 'c1', from: 'pg1', to: 'pg2', phase: 'sync-target', startedAt: NOW }); } },
  { name: 'switchover to a named async standby', observed: observed({}, { command: command({ to: 'pg3' }) }), view: view(),
    expect: (d) => assert.equal(d.view?.switchover?.to, 'pg3') },
  { name: 'switchover to the primary itself is rejected', observed: observed({}, { command: command({ to: 'pg1' }) }), view: view(), expect: rejected(/already the primary/) },
  { name: 'switchover to an unknown member is rejected', observed: observed({}, { command: command({ to: 'pg9' }) }), view: view(), expect: rejected(/unknown/) },
  { name: 'switchover to a standby that does not stream is rejected',
    observed: observed({ pg3: obs(status('pg3'), { notStreamingSince: NOW - 5000 }) }, { command: command({ to: 'pg3' }) }), view: view(), expect: rejected(/not a healthy standby streaming/) },
  { name: 'switchover to a target whose status blips is left pending, not rejected',
    observed: observed({ pg3: obs(status('pg3', { healthy: false, inRecovery: null }), { unhealthySince: NOW - 100 }) }, { command: command({ to: 'pg3' }) }), view: view(),
    expect: (d, p) => { assert.equal(d.view, p); assert.ok(!d.actions.some((a) => a.kind === 'consume-command'), 'command stays pending'); } },
  { name: 'switchover to a target just missing from replication is left pending',
    observed: observed({ pg3: obs(status('pg3'), { notStreamingSince: NOW - 100 }) }, { command: command({ to: 'pg3' }) }), view: view(),
    expect: (d, p) => { assert.equal(d.view, p); assert.ok(!d.actions.some((a) => a.kind === 'consume-command')); } },
  { name: 'switchover to a target unhealthy for long is rejected with the reason',
    observed: observed({ pg3: obs(status('pg3', { healthy: false, postgres: 'crashed', inRecovery: null }), { unhealthySince: NOW - 2000 }) }, { command: command({ to: 'pg3' }) }), view: view(),
    expect: rejected(/pg3 is not a healthy standby streaming from pg1: postgres crashed/) },
  { name: 'switchover while the primary status blips is left pending (not "use failover")',
    observed: observed({ pg1: obs(primaryStatus({ healthy: false, inRecovery: null, replication: [] }), { unhealthySince: NOW - 100 }) }, { command: command() }), view: view(),
    expect: (d) => { assert.ok(!d.actions.some((a) => a.kind === 'consume-command')); assert.equal(d.view?.lastCommand ?? null, null); } },
  { name: 'switchover while another runs is rejected', observed: observed({}, { command: command({ id: 'c1' }) }), view: view({ switchover: so({ id: 'c0' }) }),
    expect: (d) => { consumed(d); assert.equal(d.view?.lastCommand?.result, 'rejected'); assert.equal(d.view?.switchover?.id, 'c0'); } },
  { name: 'a command already answered is ignored', observed: observed({}, { command: command() }),
    view: view({ lastCommand: { id: 'c1', kind: 'switchover', result: 'done', message: '', at: NOW - 5 } }), expect: (d, p) => assert.equal(d.view, p) },
  { name: 'switchover with a dead primary is rejected (use failover)', observed: { ...primaryDead(), command: command({ to: 'pg2' }) }, view: view(), expect: rejected(/use failover/) },

  { name: 'sync-target: target becomes the requested synchronous standby', observed: observed(), view: view({ switchover: so() }),
    expect: (d) => { assert.deepEqual(d.view?.syncStandbys, ['pg3']); assert.deepEqual(d.view?.syncConfirmed, []); assert.equal(d.view?.switchover?.phase, 'sync-target'); } },
  { name: 'sync-target: confirmed target moves to stopping', observed: observed(), view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so() }),
    expect: (d) => assert.equal(d.view?.switchover?.phase, 'stopping') },
  { name: 'sync-target: confirmed target with routers running moves to pausing',
    observed: observed({}, { routers: [{ id: 'r1', pause: null }] }), view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so() }),
    expect: (d) => { assert.equal(d.view?.switchover?.phase, 'pausing'); assert.equal(d.view?.switchover?.pausingSince, NOW); } },
  { name: 'pausing: waits for every router to report paused',
    observed: observed({}, { routers: [{ id: 'r1', pause: { switchoverId: 'c1', state: 'paused', since: 0, error: null } }, { id: 'r2', pause: { switchoverId: 'c1', state: 'pausing', since: 0, error: null } }] }),
    view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'pausing', pausingSince: NOW - 100 }) }),
    expect: (d, p) => { assert.equal(d.view?.generation, p?.generation); assert.match(d.reason, /waiting for router r2/); } },
  { name: 'pausing: a pause of another switchover does not count',
    observed: observed({}, { routers: [{ id: 'r1', pause: { switchoverId: 'old', state: 'paused', since: 0, error: null } }] }),
    view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'pausing', pausingSince: NOW - 100 }) }),
    expect: (d) => assert.equal(d.view?.switchover?.phase, 'pausing') },
  { name: 'pausing: all routers paused -> stopping',
    observed: observed({}, { routers: [{ id: 'r1', pause: { switchoverId: 'c1', state: 'paused', since: 0, error: null } }] }),
    view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'pausing', pausingSince: NOW - 100 }) }),
    expect: (d) => assert.equal(d.view?.switchover?.phase, 'stopping') },
  { name: 'pausing: a router that failed to pause aborts the switchover cleanly',
    observed: observed({}, { routers: [{ id: 'r1', pause: { switchoverId: 'c1', state: 'failed', since: 0, error: 'PAUSE did not complete within 3000 ms' } }] }),
    view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'pausing', pausingSince: NOW - 100 }) }),
    expect: (d) => { assert.equal(d.view?.switchover, null); assert.equal(d.view?.primary, 'pg1'); assert.equal(d.view?.lastCommand?.result, 'aborted'); assert.match(d.view?.lastCommand?.message ?? '', /r1 could not pause/); } },
  { name: 'pausing: routers silent past switchoverPauseMs -> aborted',
    observed: observed({}, { routers: [{ id: 'r1', pause: null }] }),
    view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'pausing', pausingSince: NOW - 6000 }) }),
    expect: (d) => { assert.equal(d.view?.lastCommand?.result, 'aborted'); assert.match(d.view?.lastCommand?.message ?? '', /did not report its poolers paused within 5000 ms/); } },
  { name: 'pausing: the router that died (status gone) is not waited for',
    observed: observed({}, { routers: [] }),
    view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'pausing', pausingSince: NOW - 100 }) }),
    expect: (d) => assert.equal(d.view?.switchover?.phase, 'stopping') },
  { name: 'stopping: wait for the old primary to stop', observed: observed(), view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'stopping' }) }),
    expect: (d, p) => { assert.equal(d.view, p); assert.match(d.reason, /waiting for pg1 to stop/); } },
  { name: 'stopping: target has not received the final checkpoint yet',
    observed: observed({ pg1: stoppedPrimary, pg3: obs(status('pg3', { receiveLsn: '0/3000200' })) }), view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'stopping' }) }),
    expect: (d, p) => { assert.equal(d.view, p); assert.match(d.reason, /waiting for pg3 to receive past 0\/3000200/); } },
  { name: 'stopping: target caught up -> promoted, command done',
    observed: observed({ pg1: stoppedPrimary, pg3: obs(status('pg3', { receiveLsn: '0/3000228' })) }), view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'stopping' }) }),
    expect: (d) => {
      assert.equal(d.view?.primary, 'pg3');
      assert.equal(d.view?.switchover, null);
      assert.equal(d.view?.lastCommand?.result, 'done');
      assert.deepEqual(d.view?.syncStandbys, ['pg2']);
      assert.deepEqual(d.view?.syncConfirmed, []);
    } },
  { name: 'switchover times out -> aborted, old primary stays', observed: observed(), view: view({ switchover: so({ startedAt: NOW - 60_000 }) }),
    expect: (d) => { assert.equal(d.view?.switchover, null); assert.equal(d.view?.primary, 'pg1'); assert.equal(d.view?.lastCommand?.result, 'aborted'); } },
  { name: 'switchover target dies -> aborted', observed: observed({ pg3: null }), view: view({ switchover: so({ phase: 'stopping' }) }),
    expect: (d) => { assert.equal(d.view?.lastCommand?.result, 'aborted'); assert.equal(d.view?.primary, 'pg1'); } },
  { name: 'stopping: a target status blip (unhealthy for 100 ms) waits instead of aborting, and does not promote',
    observed: observed({ pg1: stoppedPrimary, pg3: obs(status('pg3', { receiveLsn: '0/3000228', healthy: false, inRecovery: null }), { unhealthySince: NOW - 100 }) }),
    view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'stopping' }) }),
    expect: (d, p) => { assert.equal(d.view, p); assert.match(d.reason, /target pg3 reports unhealthy for 100 ms/); } },
  { name: 'sync-target: a target status blip leaves the synchronous set alone',
    observed: observed({ pg3: obs(status('pg3', { healthy: false, inRecovery: null }), { unhealthySince: NOW - 100 }) }), view: view({ switchover: so() }),
    expect: (d, p) => { assert.equal(d.view, p); assert.deepEqual(p.syncStandbys, ['pg2']); } },
  { name: 'stopping: target unhealthy for heartbeatTimeoutMs -> aborted with the reason',
    observed: observed({ pg1: stoppedPrimary, pg3: obs(status('pg3', { healthy: false, postgres: 'crashed', inRecovery: null }), { unhealthySince: NOW - 600 }) }),
    view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'stopping' }) }),
    expect: (d) => { assert.equal(d.view?.lastCommand?.result, 'aborted'); assert.match(d.view?.lastCommand?.message ?? '', /no longer a healthy standby: postgres crashed/); assert.equal(d.view?.primary, 'pg1'); } },
  { name: 'stopping: unhealthy target with no bookkeeping (unhealthySince absent) -> aborted',
    observed: observed({ pg1: stoppedPrimary, pg3: obs(status('pg3', { healthy: false, postgres: 'crashed', inRecovery: null })) }),
    view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'stopping' }) }),
    expect: (d) => assert.equal(d.view?.lastCommand?.result, 'aborted') },
  { name: 'stopping: the old primary\'s agent publishing late (busy stopping) is waited for, not aborted',
    observed: observed({ pg1: obs(primaryStatus({ postgres: 'stopping' }), { lastChangeAt: NOW - 1500 }) }),
    view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'stopping' }) }),
    expect: (d, p) => { assert.equal(d.view?.generation, p?.generation); assert.match(d.reason, /published nothing new for 1500 ms while stopping; waiting/); } },
  { name: 'stopping: the old primary\'s status expired -> aborted',
    observed: observed({ pg1: null }),
    view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'stopping' }) }),
    expect: (d) => { assert.equal(d.view?.lastCommand?.result, 'aborted'); assert.match(d.view?.lastCommand?.message ?? '', /pg1 is gone \(status expired\) while stopping/); } },
  { name: 'stopping: silent target -> aborted even within the blip grace',
    observed: observed({ pg1: stoppedPrimary, pg3: obs(status('pg3', { healthy: false }), { lastChangeAt: NOW - 800, unhealthySince: NOW - 100 }) }),
    view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'stopping' }) }),
    expect: (d) => { assert.equal(d.view?.lastCommand?.result, 'aborted'); assert.match(d.view?.lastCommand?.message ?? '', /published nothing new for 800 ms/); } },
  { name: 'stopping primary is not failed over while the switchover runs',
    observed: { ...primaryDead({ pg3: obs(status('pg3', { receiveLsn: '0/3000000', primaryReachable: false, primaryUnreachableForMs: 1000 })) }) },
    view: view({ syncStandbys: ['pg3'], syncConfirmed: ['pg3'], switchover: so({ phase: 'stopping' }) }),
    expect: (d) => { assert.notEqual(d.view?.primary, 'pg2'); } },

  { name: 'failover --to a confirmed standby with the primary dead: promoted at once',
    observed: { ...primaryDead(), observingSince: NOW - 100, command: command({ kind: 'failover', to: 'pg2' }) }, view: view(),
    expect: (d) => { consumed(d); assert.equal(d.view?.primary, 'pg2'); assert.equal(d.view?.lastCommand?.result, 'done'); } },
  { name: 'failover --to an unconfirmed standby without --accept-data-loss is rejected',
    observed: { ...primaryDead(), command: command({ kind: 'failover', to: 'pg3' }) }, view: view(), expect: rejected(/accept-data-loss/) },
  { name: 'failover --to an unconfirmed standby with --accept-data-loss is forced',
    observed: { ...primaryDead(), command: command({ kind: 'failover', to: 'pg3', acceptDataLoss: true }) }, view: view(),
    expect: (d) => { assert.equal(d.view?.primary, 'pg3'); assert.match(d.reason, /FORCED/); assert.ok(d.actions.some((a) => a.kind === 'event' && a.level === 'error')); } },
  { name: 'failover --to with a healthy primary is a safe switchover', observed: observed({}, { command: command({ kind: 'failover', to: 'pg3' }) }), view: view(),
    expect: (d) => { assert.equal(d.view?.primary, 'pg1'); assert.equal(d.view?.switchover?.to, 'pg3'); } },
  { name: 'failover without --to is rejected when the primary is dead',
    observed: { ...primaryDead(), command: command({ kind: 'failover', to: null }) }, view: view(), expect: rejected(/--to/) },
];

for (const c of cases) {
  test(`decide command: ${c.name}`, () => {
    const d = decide(spec, c.observed, c.view, NOW);
    assert.ok(d.reason.length > 0);
    c.expect(d, c.view);
  });
}
