// Pure decisions and summaries of the router loop (router.ts runs the effects).
//
// decideRouterPush: push the view to HAProxy's runtime API when what HAProxy should route to
// changed: the view's primary, or its readiness (its agent reports it out of recovery, healthy,
// not fenced), or HAProxy itself (a restarted HAProxy starts with every server ready, checks
// deciding). Otherwise leave HAProxy alone: pushing again on every pass would override the
// health checks (the safety net) with possibly stale etcd status.
import type { ClusterView, MemberStatus, RouterPause } from '../domain/types.js';
import type { PoolSummary, RouterBackend } from '../domain/router-status.js';
import { isUp, ADMIN_FORCED_MAINT, ADMIN_INHERITED_MAINT, type HaproxyServerState, type RoutingTarget } from './haproxy-admin.js';
import type { PoolRow } from './pgbouncer-admin.js';

/** What the router last pushed successfully (null: nothing yet, or the last push failed). */
export interface PushedState {
  primary: string | null;
  primaryReady: boolean;
  haproxyPid: number;
}

export interface PushDecision {
  push: boolean;
  target: RoutingTarget;
  reason: string;
}

/** The routing target the view and the members' status call for. */
export function routingTargetOf(view: ClusterView | null, members: MemberStatus[]): RoutingTarget {
  const primary = view?.primary ?? null;
  if (primary === null) return { primary: null, primaryReady: false };
  const s = members.find((m) => m.name === primary);
  const ready = s !== undefined && s.healthy && s.inRecovery === false && !s.fenced;
  return { primary, primaryReady: ready };
}

export function decideRouterPush(view: ClusterView | null, members: MemberStatus[], last: PushedState | null, haproxyPid: number | null): PushDecision {
  const target = routingTargetOf(view, members);
  const no = (reason: string): PushDecision => ({ push: false, target, reason });
  if (haproxyPid === null) return no('HAProxy is not running');
  if (target.primary === null) return no('the view names no primary: health checks decide');
  const ready = target.primaryReady ? 'promoted' : 'not promoted yet';
  if (last === null) return { push: true, target, reason: `first push: primary ${target.primary} (${ready})` };
  if (last.haproxyPid !== haproxyPid) return { push: true, target, reason: `HAProxy restarted (pid ${last.haproxyPid} -> ${haproxyPid}): primary ${target.primary} (${ready})` };
  if (last.primary !== target.primary) return { push: true, target, reason: `the view's primary changed ${last.primary ?? 'none'} -> ${target.primary} (${ready})` };
  if (last.primaryReady !== target.primaryReady) {
    return { push: true, target, reason: target.primaryReady ? `${target.primary} is promoted (out of recovery)` : `${target.primary} is no longer ready (checks decide)` };
  }
  return no(`HAProxy already routes rw to ${target.primary}`);
}

const FALLBACK_SUFFIX = '-primary';

/** HAProxy servers as the router reports them. */
export function describeBackends(servers: HaproxyServerState[]): RouterBackend[] {
  return servers.map((s) => {
    const backup = s.server.endsWith(FALLBACK_SUFFIX);
    const maint = (s.adminState & (ADMIN_FORCED_MAINT | ADMIN_INHERITED_MAINT)) !== 0;
    return {
      proxy: s.backend,
      server: s.server,
      member: backup ? s.server.slice(0, -FALLBACK_SUFFIX.length) : s.server,
      backup,
      state: maint ? 'maint' : isUp(s) ? 'up' : 'down',
    };
  });
}

export function emptyPools(): PoolSummary {
  return { clientsActive: 0, clientsWaiting: 0, serversActive: 0, serversIdle: 0, serversUsed: 0, maxWaitMs: 0 };
}

/** Sum SHOW POOLS rows of the application pools (the `pgbouncer` console pool is left out). */
export function summarizePools(rows: PoolRow[]): PoolSummary {
  const sum = emptyPools();
  for (const r of rows) {
    if (r.database === 'pgbouncer') continue;
    sum.clientsActive += r.clActive;
    sum.clientsWaiting += r.clWaiting;
    sum.serversActive += r.svActive;
    sum.serversIdle += r.svIdle;
    sum.serversUsed += r.svUsed;
    sum.maxWaitMs = Math.max(sum.maxWaitMs, Math.round(r.maxwaitUs / 1000));
  }
  return sum;
}

export function addPools(a: PoolSummary, b: PoolSummary): PoolSummary {
  return {
    clientsActive: a.clientsActive + b.clientsActive,
    clientsWaiting: a.clientsWaiting + b.clientsWaiting,
    serversActive: a.serversActive + b.serversActive,
    serversIdle: a.serversIdle + b.serversIdle,
    serversUsed: a.serversUsed + b.serversUsed,
    maxWaitMs: Math.max(a.maxWaitMs, b.maxWaitMs),
  };
}

export type PauseAction =
  | { kind: 'pause'; switchoverId: string; why: string }
  | { kind: 'resume'; why: string }
  | { kind: 'none'; why: string };

/**
 * Zero-error switchover, router side (pure). PAUSE the read-write transaction pools when the
 * view's switchover enters 'pausing'; hold through 'stopping'; RESUME when the switchover is
 * over and HAProxy already routes rw to the view's primary (pushed ready), or at once when it
 * was aborted, or when a pause has been held longer than maxPausedMs (a safety net for a
 * coordinator that stopped deciding: waiting clients would fail at query_wait_timeout anyway).
 * A failed pause is already resumed by the pooler client; it is reported until the switchover ends.
 */
export function decideRouterPause(view: ClusterView | null, pause: RouterPause | null, pushed: PushedState | null, nowMs: number, maxPausedMs: number): PauseAction {
  const so = view?.switchover ?? null;
  const active = so !== null && (so.phase === 'pausing' || so.phase === 'stopping');
  if (pause === null) {
    if (active && so.phase === 'pausing') return { kind: 'pause', switchoverId: so.id, why: `switchover ${so.from} -> ${so.to}: pausing the read-write pools` };
    return { kind: 'none', why: 'not paused' };
  }
  const heldMs = nowMs - pause.since;
  if (pause.state === 'failed') {
    return active && so.id === pause.switchoverId ? { kind: 'none', why: 'pause failed; waiting for the switchover to abort' } : { kind: 'resume', why: 'failed pause of a finished switchover cleared' };
  }
  if (active && so.id === pause.switchoverId) {
    if (heldMs > maxPausedMs) return { kind: 'resume', why: `paused for ${heldMs} ms, longer than ${maxPausedMs} ms: resuming` };
    return { kind: 'none', why: `holding the pause (switchover phase ${so.phase})` };
  }
  if (active) return { kind: 'resume', why: `another switchover (${so.id}) is in progress` };
  if (view?.lastCommand?.id === pause.switchoverId && view.lastCommand.result !== 'done') return { kind: 'resume', why: `switchover ${view.lastCommand.result}: resuming` };
  const primary = view?.primary ?? null;
  if (primary !== null && pushed?.primary === primary && pushed.primaryReady) return { kind: 'resume', why: `switchover over: HAProxy routes rw to ${primary}` };
  if (heldMs > maxPausedMs) return { kind: 'resume', why: `paused for ${heldMs} ms and ${primary ?? 'no primary'} is not routable yet: resuming anyway` };
  return { kind: 'none', why: `waiting for HAProxy to route rw to ${primary ?? 'a primary'} before resuming` };
}
