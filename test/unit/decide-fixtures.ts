// Builders for decide() table tests: a three-member cluster pg1 (primary), pg2, pg3.
import { defaultSpec, type ClusterSpec, type ClusterView, type Command, type MemberStatus, type Observed, type ObservedMember } from '../../src/domain/types.js';

export const NOW = 1_000_000;
export const spec: ClusterSpec = defaultSpec('main');

export function status(name: string, o: Partial<MemberStatus> = {}): MemberStatus {
  return {
    name, host: '127.0.0.1', port: 5432, apiPort: 8008, agentPid: 100, postgresPid: 200, seq: 1, at: NOW,
    viewGeneration: 5, postgres: 'running', healthy: true, inRecovery: true, timeline: 1, systemId: '7',
    lsn: '0/3000000', flushLsn: '0/3000000', receiveLsn: '0/3000000', replayLsn: '0/3000000', lagBytes: 0, lagMs: 0,
    appliedSync: null, replication: [], streamingFrom: 'pg1', primaryReachable: true, primaryUnreachableForMs: 0,
    fenced: false, restartAttempts: 0, downForMs: null, rejoin: null, activity: 'streaming', lastError: null,
    ...o,
  };
}

export function primaryStatus(o: Partial<MemberStatus> = {}, sync: string[] = ['pg2'], flush: Record<string, string> = {}): MemberStatus {
  return status('pg1', {
    inRecovery: false, streamingFrom: null, primaryReachable: null, appliedSync: sync, receiveLsn: null, replayLsn: null,
    lsn: '0/3000100', flushLsn: '0/3000100', activity: 'primary',
    replication: ['pg2', 'pg3'].map((n) => ({
      name: n, state: 'streaming', syncState: sync.includes(n) ? 'sync' : 'async',
      flushLsn: flush[n] ?? '0/3000100', replayLsn: flush[n] ?? '0/3000100', replayLagMs: 0,
    })),
    ...o,
  });
}

export function obs(s: MemberStatus, o: Partial<ObservedMember> = {}): ObservedMember {
  return { status: s, lastChangeAt: NOW - 50, notStreamingSince: null, ...o };
}

/** Observed with defaults: pg1 primary healthy, pg2 and pg3 streaming; override per member (null removes). */
export function observed(members: Partial<Record<string, ObservedMember | null>> = {}, o: Partial<Observed> = {}): Observed {
  const base: Record<string, ObservedMember | null> = {
    pg1: obs(primaryStatus()),
    pg2: obs(status('pg2', { receiveLsn: '0/3000100' })),
    pg3: obs(status('pg3', { receiveLsn: '0/3000080' })),
    ...members,
  };
  const out: Record<string, ObservedMember> = {};
  for (const [k, v] of Object.entries(base)) if (v) out[k] = v;
  return { members: out, observingSince: NOW - 60_000, command: null, ...o };
}

export function view(o: Partial<ClusterView> = {}): ClusterView {
  return {
    generation: 5, primary: 'pg1', primarySince: NOW - 60_000, timeline: 1, syncStandbys: ['pg2'], syncConfirmed: ['pg2'],
    syncChange: null, unreplicated: false, switchover: null, lastCommand: null, reason: '', updatedAt: NOW - 60_000,
    ...o,
  };
}

/** The primary's host died: agent silent 2 s, standbys cannot reach its postgres for 1 s. */
export function primaryDead(extra: Partial<Record<string, ObservedMember | null>> = {}): Observed {
  const unreachable = { primaryReachable: false, primaryUnreachableForMs: 1000 };
  return observed({
    pg1: obs(primaryStatus(), { lastChangeAt: NOW - 2000 }),
    pg2: obs(status('pg2', { receiveLsn: '0/3000100', streamingFrom: null, ...unreachable }), { notStreamingSince: NOW - 1000 }),
    pg3: obs(status('pg3', { receiveLsn: '0/3000900', streamingFrom: null, ...unreachable }), { notStreamingSince: NOW - 1000 }),
    ...extra,
  });
}

export function command(o: Partial<Command> = {}): Command {
  return { id: 'c1', kind: 'switchover', to: null, acceptDataLoss: false, requestedAt: NOW - 10, ...o };
}
