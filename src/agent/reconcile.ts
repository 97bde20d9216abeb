// The agent's pure decision: reconcile(input) -> the next step towards the view.
// Modes of the local member and their transitions:
//   absent --initdb (bootstrap primary) / basebackup (standby)--> stopped
//   stopped --start--> running (primary or standby); crashed --start with back-off--> running
//   standby running --promote (view names us, view fresh)--> primary running
//   primary running, view names another --stop--> stopped (former primary) --rewind--> standby
//   rewind failed --basebackup--> standby
//   primary that cannot confirm its role --stop immediate (fence)--> stopped
// The 'basebackup' step clones: the executor restores the newest backup with pgBackRest when the
// member archives and one fits, else runs pg_basebackup (see clone-plan.ts); a clone restored
// from a backup replays the archive before it streams.
import type { ClusterView, MemberName } from '../domain/types.js';
import type { ControlData, PgObservation, Upstream } from './pg-control.js';

export interface LocalState {
  hasData: boolean;
  running: boolean;
  /** Observation when running and answering, else null. */
  obs: PgObservation | null;
  /** pg_controldata when stopped with data, else null. */
  control: ControlData | null;
  /** standby.signal is present: the data directory is a standby's (fresh clones included). */
  standbySignal: boolean;
  /** A running standby's newest streaming attempt failed: the primary removed the WAL it needs. */
  walRemovedOnUpstream?: boolean;
}

export interface AgentMemory {
  restartAttempts: number;
  /** Agent clock before which no start is attempted (back-off). */
  nextStartAt: number;
  /** Set when this member must be rewound before it can follow the primary. */
  needsRewind: boolean;
  /** Set when this member must be cloned afresh (the primary no longer has the WAL it needs). */
  needsClone?: boolean;
  /** Upstream "host:port" our ballast-dynamic.conf points at, or null. */
  configuredUpstream: string | null;
  /** Agent clock when we last re-pointed to the current upstream. */
  repointedAt: number;
  /** Agent clock when we last saw our walreceiver streaming from the current upstream. */
  streamingAt: number;
  /** Agent clock since when the upstream has been healthy and reachable without a break (null: it is not). */
  upstreamHealthySince?: number | null;
  /** Agent clock when we last restarted a walreceiver that was not streaming. */
  walReceiverRestartedAt?: number;
  /** Timeline our walreceiver last streamed on (from anyone); null when not known. */
  streamedTli?: number | null;
  rolesEnsured: boolean;
  /** Switchover id this primary has run its pre-shutdown CHECKPOINT for (absent: none). */
  checkpointedFor?: string;
  /** Agent clock when the newest clone by restoring a backup completed (absent: none). */
  restoredAt?: number;
  /** Agent clock of the newest failed restore from a backup (absent: none); see clone-plan.ts. */
  restoreFailedAt?: number;
  /** Agent clock when our replay LSN last moved, and that LSN (catch-up from the archive, see below). */
  replayAdvancedAt?: number;
  lastReplayLsn?: string | null;
}

export interface ReconcileInput {
  me: MemberName;
  view: ClusterView | null;
  /** The view is confirmed by etcd recently, or by a failsafe quorum of peers. */
  roleConfirmed: boolean;
  /** Must stop serving writes now (lost lease and no failsafe quorum). */
  fence: boolean;
  upstream: Upstream | null;
  upstreamHealthy: boolean;
  /** We replayed past where the upstream's timeline forked off ours (see timeline.ts): rewind now. */
  upstreamDiverged?: boolean;
  /** Some other member reports a data directory (so initdb would fork a new cluster). */
  otherHasData: boolean;
  /** Slot names a primary should hold (one per other member). */
  wantedSlots: string[];
  local: LocalState;
  mem: AgentMemory;
  now: number;
  rejoinTimeoutMs: number;
}

export type Step =
  | { kind: 'wait'; why: string }
  | { kind: 'initdb' }
  | { kind: 'basebackup'; from: Upstream; why: string }
  | { kind: 'rewind'; from: Upstream; why: string }
  | { kind: 'start'; role: 'primary' | 'standby' | 'as-is'; why: string }
  | { kind: 'stop'; mode: 'fast' | 'immediate'; why: string; thenRewind: boolean; thenClone?: boolean }
  | { kind: 'promote' }
  | { kind: 'configure-primary'; syncStandbys: MemberName[] }
  | { kind: 'configure-standby'; upstream: Upstream }
  | { kind: 'ensure-roles' }
  | { kind: 'sync-slots'; slots: string[] }
  | { kind: 'checkpoint'; switchoverId: string; why: string }
  | { kind: 'restart-walreceiver'; why: string };

/**
 * A walreceiver that is not streaming although the primary has been healthy and reachable for
 * this long is restarted (at most once per WALRECEIVER_RESTART_INTERVAL_MS). PostgreSQL's
 * walreceiver connects without a timeout (connect_timeout does not apply to it), so a connection
 * attempt made while the network was cut waits for TCP's SYN retries, up to a minute or more,
 * after the network is back.
 */
export const WALRECEIVER_STUCK_MS = 1500;
export const WALRECEIVER_RESTART_INTERVAL_MS = 5000;

/** Our walreceiver streams from `up` (host and port, as primary_conninfo names them). */
export function isStreamingFrom(obs: PgObservation | null, up: Upstream): boolean {
  const r = obs?.receiver ?? null;
  return r !== null && r.status === 'streaming' && r.senderPort === up.port && (r.senderHost === null || r.senderHost === up.host);
}

export function upstreamKey(u: Upstream): string {
  return `${u.host}:${u.port}`;
}

/** Restored from a backup and not streamed since: it replays from the archive first. */
export function isCatchingUpFromArchive(mem: AgentMemory): boolean {
  return mem.restoredAt !== undefined && mem.streamingAt < mem.restoredAt;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function reconcile(i: ReconcileInput): Step {
  const { view } = i;
  if (view === null || view.primary === null) {
    return { kind: 'wait', why: 'no cluster view yet (waiting for the coordinator)' };
  }
  if (view.primary === i.me) return reconcilePrimary(i, view);
  return reconcileStandby(i);
}

function reconcilePrimary(i: ReconcileInput, view: ClusterView): Step {
  const { local, mem } = i;
  const stopping = view.switchover?.phase === 'stopping' && view.switchover.from === i.me;
  if (i.fence && local.running && local.obs?.inRecovery !== true) {
    return { kind: 'stop', mode: 'immediate', why: 'fencing: cannot confirm this member is still the primary', thenRewind: false };
  }
  if (stopping) {
    return local.running
      ? { kind: 'stop', mode: 'fast', why: `switchover to ${view.switchover!.to}: shutting down cleanly`, thenRewind: false }
      : { kind: 'wait', why: `stopped for switchover to ${view.switchover!.to}` };
  }
  if (!local.hasData) {
    if (view.timeline === 0 && !i.otherHasData) return { kind: 'initdb' };
    return { kind: 'wait', why: 'named primary but has no data directory while other members have data; operator action needed' };
  }
  if (!local.running) {
    if (i.fence) return { kind: 'wait', why: 'fenced: waiting to confirm the primary role' };
    if (!i.roleConfirmed) return { kind: 'wait', why: 'not starting as primary on an unconfirmed view' };
    if (i.now < mem.nextStartAt) return { kind: 'wait', why: `restart back-off (attempt ${mem.restartAttempts})` };
    return local.standbySignal
      ? { kind: 'start', role: 'as-is', why: 'starting the standby so it can be promoted' }
      : { kind: 'start', role: 'primary', why: 'starting as primary' };
  }
  const obs = local.obs;
  if (obs === null) return { kind: 'wait', why: 'postgres is starting' };
  if (obs.inRecovery) {
    if (!i.roleConfirmed) return { kind: 'wait', why: 'not promoting on an unconfirmed view' };
    return { kind: 'promote' };
  }
  if (!sameNames(obs.syncStandbyNames, view.syncStandbys)) {
    return { kind: 'configure-primary', syncStandbys: view.syncStandbys };
  }
  if (!mem.rolesEnsured) return { kind: 'ensure-roles' };
  const so = view.switchover;
  if (so !== null && so.from === i.me && (so.phase === 'sync-target' || so.phase === 'pausing') && mem.checkpointedFor !== so.id) {
    // While the target is made synchronous and the poolers pause: flush dirty buffers now so the
    // shutdown checkpoint of the stopping phase (which clients wait through) is short.
    return { kind: 'checkpoint', switchoverId: so.id, why: `switchover to ${so.to}: checkpoint before shutting down` };
  }
  const have = obs.slots.filter((s) => s.startsWith('ballast_')).sort();
  const want = [...i.wantedSlots].sort();
  if (!sameNames(have, want)) return { kind: 'sync-slots', slots: want };
  return { kind: 'wait', why: 'primary: in sync with the view' };
}

function reconcileStandby(i: ReconcileInput): Step {
  const { local, mem, upstream } = i;
  if (!local.hasData) {
    if (upstream && i.upstreamHealthy) return { kind: 'basebackup', from: upstream, why: 'new member: cloning from the primary' };
    return { kind: 'wait', why: 'no data yet; waiting for a healthy primary to clone from' };
  }
  if (local.running && local.obs?.inRecovery === false) {
    return { kind: 'stop', mode: 'fast', why: `the view names ${i.view!.primary} primary: demoting this former primary`, thenRewind: true };
  }
  if (local.running && local.obs?.inRecovery !== false && local.walRemovedOnUpstream && upstream && i.upstreamHealthy) {
    return { kind: 'stop', mode: 'fast', why: `${upstream.name} has already removed WAL this standby needs: cloning afresh`, thenRewind: false, thenClone: true };
  }
  if (!local.running) {
    if (mem.needsClone) {
      if (!upstream || !i.upstreamHealthy) return { kind: 'wait', why: 'must clone afresh; waiting for a healthy primary' };
      return { kind: 'basebackup', from: upstream, why: 'the primary no longer has the WAL this member needs' };
    }
    if (i.now < mem.nextStartAt) return { kind: 'wait', why: `restart back-off (attempt ${mem.restartAttempts})` };
    const wasPrimary = !local.standbySignal;
    if (mem.needsRewind || wasPrimary) {
      if (!upstream || !i.upstreamHealthy) return { kind: 'wait', why: 'must rewind; waiting for a healthy primary' };
      return { kind: 'rewind', from: upstream, why: wasPrimary ? 'former primary rejoining' : 'timeline diverged from the new primary' };
    }
    if (!upstream) return { kind: 'start', role: 'as-is', why: 'starting the standby (primary location unknown)' };
    return { kind: 'start', role: 'standby', why: `starting as standby of ${upstream.name}` };
  }
  if (local.obs === null) return { kind: 'wait', why: 'postgres is starting' };
  if (!upstream) return { kind: 'wait', why: 'standby: primary location unknown' };
  if (mem.configuredUpstream !== upstreamKey(upstream)) return { kind: 'configure-standby', upstream };
  if (isStreamingFrom(local.obs, upstream)) return { kind: 'wait', why: `streaming from ${upstream.name}` };
  if (i.upstreamHealthy && i.upstreamDiverged) {
    return { kind: 'stop', mode: 'fast', why: `replayed past the point where ${upstream.name}'s timeline forked off ours: rewinding`, thenRewind: true };
  }
  // Measured from the latest of re-pointing, the last moment we streamed and the moment the
  // primary became healthy and reachable again: a standby whose stream just broke because the
  // primary died must stay up (it may be the one to promote), and one that was cut off gets the
  // time to reconnect after the heal.
  const since = Math.max(mem.repointedAt, mem.streamingAt, mem.upstreamHealthySince ?? 0);
  // A clone restored from a backup replays the archive before it streams (minutes of WAL,
  // perhaps): while its replay moves it is catching up, not stuck.
  const catchingUp = isCatchingUpFromArchive(mem);
  if (i.upstreamHealthy && i.now - Math.max(since, catchingUp ? (mem.replayAdvancedAt ?? 0) : 0) > i.rejoinTimeoutMs) {
    return { kind: 'stop', mode: 'fast', why: `not streaming from ${upstream.name} for ${i.rejoinTimeoutMs} ms while it is healthy: rewinding`, thenRewind: true };
  }
  if (catchingUp && i.now - (mem.replayAdvancedAt ?? 0) <= WALRECEIVER_STUCK_MS) {
    return { kind: 'wait', why: `restored from a backup: replaying WAL from the archive (at ${local.obs.replayLsn ?? '?'}) before streaming from ${upstream.name}` };
  }
  if (i.upstreamHealthy && i.now - since > WALRECEIVER_STUCK_MS && i.now - (mem.walReceiverRestartedAt ?? -Infinity) > WALRECEIVER_RESTART_INTERVAL_MS) {
    return { kind: 'restart-walreceiver', why: `not streaming ${WALRECEIVER_STUCK_MS} ms after ${upstream.name} became reachable (walreceiver ${local.obs.receiver?.status ?? 'absent'}): restarting the walreceiver` };
  }
  return { kind: 'wait', why: `re-pointing to ${upstream.name}` };
}
