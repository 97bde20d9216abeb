// Pure decisions and summaries of the router loop (router.ts runs the effects).
//
// decideRouterPush: push the view to HAProxy's runtime API when what HAProxy should route to
// changed: the view's primary, or its readiness (its agent reports it out of recovery, healthy,
// not fenced), or HAProxy itself (a restarted HAProxy starts with every server ready, checks
// deciding). Otherwise leave HAProxy alone: pushing again on every pass would override the
// health checks (the safety net) with possibly stale etcd status.
import type { ClusterView, MemberStatus } from '../domain/types.js';
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
