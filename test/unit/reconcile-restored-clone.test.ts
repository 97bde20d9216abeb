// reconcile(): a standby cloned from a backup replays the archive before it streams; while its
// replay moves it is not rewound for "not streaming" (the rejoin timeout), and once it stops
// moving the timeout applies as to any standby.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCatchingUpFromArchive, reconcile, type AgentMemory, type ReconcileInput } from '../../src/agent/reconcile.js';
import type { ClusterView } from '../../src/domain/types.js';

const view: ClusterView = {
  generation: 3, primary: 'pg1', primarySince: 0, timeline: 1, syncStandbys: ['pg2'], syncConfirmed: ['pg2'], syncChange: null,
  unreplicated: false, switchover: null, lastCommand: null, reason: '', updatedAt: 0,
};

/** pg2 running in recovery, replaying from the archive (no walreceiver), primary pg1 healthy since 0. */
function input(mem: Partial<AgentMemory>, now = 100_000): ReconcileInput {
  return {
    me: 'pg2', view, roleConfirmed: true, fence: false, upstream: { name: 'pg1', host: '127.0.0.1', port: 5001 }, upstreamHealthy: true,
    otherHasData: true, wantedSlots: [],
    local: {
      hasData: true, running: true, control: null, standbySignal: true,
      obs: {
        inRecovery: true, timeline: 1, systemId: '7', currentLsn: null, flushLsn: null, receiveLsn: null, replayLsn: '0/9000000',
        syncStandbyNames: [], replication: [], slots: [], receiver: null,
      },
    },
    mem: {
      restartAttempts: 0, nextStartAt: 0, needsRewind: false, configuredUpstream: '127.0.0.1:5001', repointedAt: 50_000,
      streamingAt: 0, upstreamHealthySince: 0, walReceiverRestartedAt: 99_000, rolesEnsured: true, ...mem,
    },
    now, rejoinTimeoutMs: 10_000,
  };
}

const cases: { name: string; mem: Partial<AgentMemory>; kind: string; why?: RegExp }[] = [
  { name: 'restored, replay moved 1 s ago: catching up, nothing to do', mem: { restoredAt: 50_000, replayAdvancedAt: 99_000, walReceiverRestartedAt: 0 }, kind: 'wait', why: /replaying WAL from the archive \(at 0\/9000000\) before streaming from pg1/ },
  { name: 'restored, replay moved 3 s ago: no rewind yet, the walreceiver may be stuck', mem: { restoredAt: 50_000, replayAdvancedAt: 97_000, walReceiverRestartedAt: 0 }, kind: 'restart-walreceiver' },
  { name: 'restored, replay moved 3 s ago, walreceiver just restarted: wait', mem: { restoredAt: 50_000, replayAdvancedAt: 97_000 }, kind: 'wait', why: /re-pointing/ },
  { name: 'restored, replay stalled for 15 s: rewind as any standby', mem: { restoredAt: 50_000, replayAdvancedAt: 85_000 }, kind: 'stop', why: /not streaming from pg1 for 10000 ms/ },
  { name: 'not restored: replay progress does not hold the timeout off', mem: { replayAdvancedAt: 98_000 }, kind: 'stop', why: /not streaming/ },
  { name: 'restored but streamed since: the timeout counts from the stream', mem: { restoredAt: 50_000, streamingAt: 60_000, replayAdvancedAt: 98_000 }, kind: 'stop', why: /not streaming/ },
];

for (const c of cases) {
  test(`reconcile, restored clone: ${c.name}`, () => {
    const step = reconcile(input(c.mem));
    assert.equal(step.kind, c.kind, JSON.stringify(step));
    if (c.why) assert.match((step as { why: string }).why, c.why);
  });
}

test('isCatchingUpFromArchive: restored and not streamed since', () => {
  assert.equal(isCatchingUpFromArchive(input({}).mem), false);
  assert.equal(isCatchingUpFromArchive(input({ restoredAt: 5 }).mem), true);
  assert.equal(isCatchingUpFromArchive(input({ restoredAt: 5, streamingAt: 6 }).mem), false);
});
