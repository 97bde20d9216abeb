// Table-driven tests of the agent's pure reconcile().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcile, type ReconcileInput, type Step } from '../../src/agent/reconcile.js';
import type { PgObservation } from '../../src/agent/pg-control.js';
import type { ClusterView } from '../../src/domain/types.js';

const view = (o: Partial<ClusterView> = {}): ClusterView => ({
  generation: 3, primary: 'pg1', primarySince: 0, timeline: 1, syncStandbys: ['pg2'], syncConfirmed: ['pg2'], syncChange: null,
  unreplicated: false, switchover: null, lastCommand: null, reason: '', updatedAt: 0, ...o,
});
const primaryObs = (o: Partial<PgObservation> = {}): PgObservation => ({
  inRecovery: false, timeline: 1, systemId: '7', currentLsn: '0/100', flushLsn: '0/100', receiveLsn: null, replayLsn: null,
  syncStandbyNames: ['pg2'], replication: [], receiver: null, slots: ['ballast_pg2', 'ballast_pg3'], ...o,
});
const standbyObs = (o: Partial<PgObservation> = {}): PgObservation => ({
  inRecovery: true, timeline: 1, systemId: '7', currentLsn: null, flushLsn: '0/100', receiveLsn: '0/100', replayLsn: '0/100',
  syncStandbyNames: [], replication: [], slots: [], receiver: { status: 'streaming', senderHost: '127.0.0.1', senderPort: 5001, receivedTli: 1 }, ...o,
});
const up = { name: 'pg1', host: '127.0.0.1', port: 5001 };

function input(me: string, o: Partial<ReconcileInput> = {}): ReconcileInput {
  return {
    me, view: view(), roleConfirmed: true, fence: false, upstream: me === 'pg1' ? null : up, upstreamHealthy: true,
    otherHasData: true, wantedSlots: ['ballast_pg2', 'ballast_pg3'],
    local: { hasData: true, running: true, obs: me === 'pg1' ? primaryObs() : standbyObs(), control: null, standbySignal: me !== 'pg1' },
    mem: { restartAttempts: 0, nextStartAt: 0, needsRewind: false, configuredUpstream: '127.0.0.1:5001', repointedAt: 0, streamingAt: 0, rolesEnsured: true },
    now: 100_000, rejoinTimeoutMs: 10_000, ...o,
  };
}
const stopped = (state: string) => ({
  hasData: true, running: false, obs: null, standbySignal: state.includes('recovery'),
  control: { state, timeline: 1, checkpointLsn: '0/90', systemId: '7' },
});

const cases: { name: string; in: ReconcileInput; want: Partial<Step> & { kind: Step['kind'] }; why?: RegExp }[] = [
  { name: 'no view: wait', in: input('pg1', { view: null }), want: { kind: 'wait' }, why: /no cluster view/ },
  // primary role
  { name: 'bootstrap primary runs initdb', in: input('pg1', { view: view({ timeline: 0 }), otherHasData: false, local: { hasData: false, running: false, obs: null, control: null, standbySignal: false } }), want: { kind: 'initdb' } },
  { name: 'never initdb when others hold data', in: input('pg1', { otherHasData: true, local: { hasData: false, running: false, obs: null, control: null, standbySignal: false } }), want: { kind: 'wait' }, why: /operator/ },
  { name: 'stopped former primary named primary: start as primary', in: input('pg1', { local: stopped('shut down') }), want: { kind: 'start', role: 'primary' } },
  { name: 'crashed primary restarts after back-off only', in: input('pg1', { local: stopped('in production'), mem: { ...input('pg1').mem, nextStartAt: 200_000, restartAttempts: 2 } }), want: { kind: 'wait' }, why: /back-off/ },
  { name: 'stopped standby named primary: start as-is, then promote', in: input('pg1', { local: stopped('shut down in recovery') }), want: { kind: 'start', role: 'as-is' } },
  { name: 'standby named primary: promote', in: input('pg1', { local: { hasData: true, running: true, obs: standbyObs(), control: null, standbySignal: true } }), want: { kind: 'promote' } },
  { name: 'no promotion on an unconfirmed view', in: input('pg1', { roleConfirmed: false, local: { hasData: true, running: true, obs: standbyObs(), control: null, standbySignal: true } }), want: { kind: 'wait' }, why: /unconfirmed/ },
  { name: 'no start as primary on an unconfirmed view', in: input('pg1', { roleConfirmed: false, local: stopped('shut down') }), want: { kind: 'wait' } },
  { name: 'primary applies a new synchronous set', in: input('pg1', { view: view({ syncStandbys: ['pg3'] }) }), want: { kind: 'configure-primary', syncStandbys: ['pg3'] } },
  { name: 'primary creates roles once', in: input('pg1', { mem: { ...input('pg1').mem, rolesEnsured: false } }), want: { kind: 'ensure-roles' } },
  { name: 'primary creates missing slots', in: input('pg1', { local: { hasData: true, running: true, obs: primaryObs({ slots: [] }), control: null, standbySignal: false } }), want: { kind: 'sync-slots' } },
  { name: 'primary in sync: nothing to do', in: input('pg1'), want: { kind: 'wait' }, why: /in sync/ },
  { name: 'fence: stop immediately', in: input('pg1', { fence: true, roleConfirmed: false }), want: { kind: 'stop', mode: 'immediate' } },
  { name: 'switchover: old primary stops cleanly', in: input('pg1', { view: view({ switchover: { id: 'x', from: 'pg1', to: 'pg2', phase: 'stopping', startedAt: 0 } }) }), want: { kind: 'stop', mode: 'fast' } },
  { name: 'switchover: stays stopped', in: input('pg1', { view: view({ switchover: { id: 'x', from: 'pg1', to: 'pg2', phase: 'stopping', startedAt: 0 } }), local: stopped('shut down') }), want: { kind: 'wait' } },
  { name: 'switchover sync-target phase (checkpoint done): keep running', in: input('pg1', { view: view({ switchover: { id: 'x', from: 'pg1', to: 'pg2', phase: 'sync-target', startedAt: 0 } }), mem: { ...input('pg1').mem, checkpointedFor: 'x' } }), want: { kind: 'wait' } },
  // standby role
  { name: 'new standby clones from a healthy primary', in: input('pg2', { local: { hasData: false, running: false, obs: null, control: null, standbySignal: false } }), want: { kind: 'basebackup' } },
  { name: 'new standby waits for a healthy primary', in: input('pg2', { upstreamHealthy: false, local: { hasData: false, running: false, obs: null, control: null, standbySignal: false } }), want: { kind: 'wait' } },
  { name: 'running former primary is demoted', in: input('pg2', { local: { hasData: true, running: true, obs: primaryObs(), control: null, standbySignal: false } }), want: { kind: 'stop', mode: 'fast', thenRewind: true } },
  { name: 'stopped former primary rewinds', in: input('pg2', { local: stopped('in production') }), want: { kind: 'rewind' } },
  { name: 'cleanly stopped former primary rewinds too', in: input('pg2', { local: stopped('shut down') }), want: { kind: 'rewind' } },
  { name: 'rewind waits for a healthy primary', in: input('pg2', { upstreamHealthy: false, local: stopped('in production') }), want: { kind: 'wait' } },
  { name: 'stopped standby starts as standby', in: input('pg2', { local: stopped('shut down in recovery') }), want: { kind: 'start', role: 'standby' } },
  { name: 'fresh clone (control says in production) starts as standby', in: input('pg2', { local: { ...stopped('in production'), standbySignal: true } }), want: { kind: 'start', role: 'standby' } },
  { name: 'flagged standby rewinds', in: input('pg2', { local: stopped('shut down in recovery'), mem: { ...input('pg2').mem, needsRewind: true } }), want: { kind: 'rewind' } },
  { name: 'standby re-points to a new primary', in: input('pg2', { upstream: { name: 'pg3', host: '127.0.0.1', port: 5003 }, view: view({ primary: 'pg3' }) }), want: { kind: 'configure-standby' } },
  { name: 'streaming standby: nothing to do', in: input('pg2'), want: { kind: 'wait' }, why: /streaming from pg1/ },
  { name: 'standby not streaming long after re-pointing: rewind', in: input('pg2', { local: { hasData: true, running: true, obs: standbyObs({ receiver: null }), control: null, standbySignal: true } }), want: { kind: 'stop', thenRewind: true } },
  { name: 'stream broke recently (primary may be dead): stay up', in: input('pg2', { mem: { ...input('pg2').mem, streamingAt: 99_000 }, local: { hasData: true, running: true, obs: standbyObs({ receiver: null }), control: null, standbySignal: true } }), want: { kind: 'wait' } },
  { name: 'not streaming for long while the primary is unhealthy: wait, never rewind', in: input('pg2', { upstreamHealthy: false, local: { hasData: true, running: true, obs: standbyObs({ receiver: null }), control: null, standbySignal: true } }), want: { kind: 'wait' } },
  { name: 'streaming from the right port on another host is not streaming from upstream', in: input('pg2', { local: { hasData: true, running: true, obs: standbyObs({ receiver: { status: 'streaming', senderHost: '10.0.0.9', senderPort: 5001, receivedTli: 1 } }), control: null, standbySignal: true } }), want: { kind: 'stop', thenRewind: true } },
  { name: 'switchover from this primary: checkpoint once before the shutdown', in: input('pg1', { view: view({ switchover: { id: 's1', from: 'pg1', to: 'pg2', phase: 'pausing', startedAt: 0 } }) }), want: { kind: 'checkpoint', switchoverId: 's1' } },
  { name: 'switchover checkpoint already done: nothing to do', in: input('pg1', { view: view({ switchover: { id: 's1', from: 'pg1', to: 'pg2', phase: 'pausing', startedAt: 0 } }), mem: { ...input('pg1').mem, checkpointedFor: 's1' } }), want: { kind: 'wait' } },
  { name: 'diverged from the new primary (certain): rewind at once, no rejoin timeout', in: input('pg2', { upstreamDiverged: true, mem: { ...input('pg2').mem, repointedAt: 99_500, streamingAt: 99_000 }, local: { hasData: true, running: true, obs: standbyObs({ receiver: null }), control: null, standbySignal: true } }), want: { kind: 'stop', mode: 'fast', thenRewind: true }, why: /forked off ours/ },
  { name: 'diverged but the primary is not healthy: wait', in: input('pg2', { upstreamDiverged: true, upstreamHealthy: false, mem: { ...input('pg2').mem, repointedAt: 99_500 }, local: { hasData: true, running: true, obs: standbyObs({ receiver: null }), control: null, standbySignal: true } }), want: { kind: 'wait' } },
  { name: 'diverged flag is moot while streaming', in: input('pg2', { upstreamDiverged: true }), want: { kind: 'wait' }, why: /streaming from pg1/ },
  { name: 'primary reachable again only just now (we were cut off): give the stream time to come back', in: input('pg2', { mem: { ...input('pg2').mem, upstreamHealthySince: 99_000 }, local: { hasData: true, running: true, obs: standbyObs({ receiver: null }), control: null, standbySignal: true } }), want: { kind: 'wait' }, why: /re-pointing/ },
  { name: 'primary healthy and reachable for long, still not streaming: rewind', in: input('pg2', { mem: { ...input('pg2').mem, upstreamHealthySince: 80_000 }, local: { hasData: true, running: true, obs: standbyObs({ receiver: null }), control: null, standbySignal: true } }), want: { kind: 'stop', thenRewind: true } },
  { name: 'walreceiver stuck connecting while the primary is reachable: restart it', in: input('pg2', { mem: { ...input('pg2').mem, upstreamHealthySince: 98_000, streamingAt: 97_000 }, local: { hasData: true, running: true, obs: standbyObs({ receiver: { status: 'starting', senderHost: null, senderPort: null, receivedTli: 1 } }), control: null, standbySignal: true } }), want: { kind: 'restart-walreceiver' } },
  { name: 'walreceiver not streaming, primary reachable only just now: wait', in: input('pg2', { mem: { ...input('pg2').mem, upstreamHealthySince: 99_000, streamingAt: 97_000 }, local: { hasData: true, running: true, obs: standbyObs({ receiver: { status: 'starting', senderHost: null, senderPort: null, receivedTli: 1 } }), control: null, standbySignal: true } }), want: { kind: 'wait' } },
  { name: 'walreceiver restarted recently: not again yet', in: input('pg2', { mem: { ...input('pg2').mem, upstreamHealthySince: 90_000, streamingAt: 97_000, walReceiverRestartedAt: 97_000 }, local: { hasData: true, running: true, obs: standbyObs({ receiver: { status: 'starting', senderHost: null, senderPort: null, receivedTli: 1 } }), control: null, standbySignal: true } }), want: { kind: 'wait' } },
  { name: 'no walreceiver shown at all (pg_stat_wal_receiver is empty until connected): restart too', in: input('pg2', { mem: { ...input('pg2').mem, upstreamHealthySince: 98_000, streamingAt: 97_000 }, local: { hasData: true, running: true, obs: standbyObs({ receiver: null }), control: null, standbySignal: true } }), want: { kind: 'restart-walreceiver' }, why: /walreceiver absent/ },
  { name: 'walreceiver stuck but the primary is unhealthy: never touch it', in: input('pg2', { upstreamHealthy: false, mem: { ...input('pg2').mem, upstreamHealthySince: null }, local: { hasData: true, running: true, obs: standbyObs({ receiver: { status: 'starting', senderHost: null, senderPort: null, receivedTli: 1 } }), control: null, standbySignal: true } }), want: { kind: 'wait' } },
  { name: 'standby re-pointed 5 s ago and still not streaming: restart the walreceiver first', in: input('pg2', { mem: { ...input('pg2').mem, repointedAt: 95_000 }, local: { hasData: true, running: true, obs: standbyObs({ receiver: null }), control: null, standbySignal: true } }), want: { kind: 'restart-walreceiver' } },
  { name: 'primary removed the WAL this standby needs (it cannot even become consistent): stop, then clone', in: input('pg2', { local: { hasData: true, running: true, obs: null, control: null, standbySignal: true, walRemovedOnUpstream: true } }), want: { kind: 'stop', mode: 'fast', thenClone: true, thenRewind: false } },
  { name: 'WAL removed but the primary is not healthy: wait (never clone from it)', in: input('pg2', { upstreamHealthy: false, local: { hasData: true, running: true, obs: null, control: null, standbySignal: true, walRemovedOnUpstream: true } }), want: { kind: 'wait' } },
  { name: 'stopped member flagged for a fresh clone: basebackup, before any rewind or start', in: input('pg2', { local: stopped('shut down in recovery'), mem: { ...input('pg2').mem, needsClone: true, needsRewind: true } }), want: { kind: 'basebackup' }, why: /no longer has the WAL/ },
  { name: 'flagged for a clone, primary unhealthy: wait', in: input('pg2', { upstreamHealthy: false, local: stopped('shut down in recovery'), mem: { ...input('pg2').mem, needsClone: true } }), want: { kind: 'wait' }, why: /clone afresh/ },
  { name: 'standby just re-pointed: give it time', in: input('pg2', { mem: { ...input('pg2').mem, repointedAt: 99_000 }, local: { hasData: true, running: true, obs: standbyObs({ receiver: null }), control: null, standbySignal: true } }), want: { kind: 'wait' }, why: /re-pointing/ },
];

for (const c of cases) {
  test(`reconcile: ${c.name}`, () => {
    const step = reconcile(c.in);
    for (const [k, v] of Object.entries(c.want)) assert.deepEqual((step as Record<string, unknown>)[k], v, `${k} of ${JSON.stringify(step)}`);
    if (c.why) assert.match((step as { why: string }).why, c.why);
  });
}
