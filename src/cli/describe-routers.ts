// Pure view of the routers' published status for `ballast status` (human and --json).
import type { PoolSummary, RouterStatus } from '../domain/router-status.js';
import { renderTable } from './describe-table.js';

export interface RouterDescription {
  id: string;
  /** Router process pid; its status age (ms since its last publish). */
  pid: number;
  ageMs: number;
  ports: { rw: number; ro: number; pooler: number };
  haproxyPid: number | null;
  poolerPids: (number | null)[];
  /** Per proxy, member -> up | down | maint (ro fallback servers under `roFallback`). */
  backends: { rw: Record<string, string>; ro: Record<string, string>; roFallback: Record<string, string> };
  /** Members serving now through each endpoint. */
  rwUp: string[];
  roUp: string[];
  pools: PoolSummary;
  waitingClients: number;
  lastPush: { reason: string; agoMs: number } | null;
  restarts: { haproxy: number; poolers: number };
  activity: string;
  lastError: string | null;
  /** Switchover pause of the read-write pools, null when not paused. */
  pause: { switchoverId: string; state: string; forMs: number; error: string | null } | null;
}

export function describeRouters(routers: RouterStatus[], nowMs: number): RouterDescription[] {
  return [...routers]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((r) => {
      const backends = { rw: {} as Record<string, string>, ro: {} as Record<string, string>, roFallback: {} as Record<string, string> };
      for (const b of r.haproxy.backends) {
        const table = b.proxy === 'rw' ? backends.rw : b.backup ? backends.roFallback : backends.ro;
        table[b.member] = b.state;
      }
      const up = (t: Record<string, string>) => Object.keys(t).filter((m) => t[m] === 'up').sort();
      const roUp = up(backends.ro);
      return {
        id: r.id,
        pid: r.pid,
        ageMs: Math.max(0, nowMs - r.at),
        ports: { rw: r.listen.rwPort, ro: r.listen.roPort, pooler: r.listen.poolerPort },
        haproxyPid: r.haproxy.pid,
        poolerPids: r.poolers.map((p) => p.pid),
        backends,
        rwUp: up(backends.rw),
        roUp: roUp.length > 0 ? roUp : up(backends.roFallback).map((m) => `${m} (primary fallback)`),
        pools: r.pools,
        waitingClients: r.pools.clientsWaiting,
        lastPush: r.lastPush ? { reason: r.lastPush.reason, agoMs: Math.max(0, nowMs - r.lastPush.at) } : null,
        restarts: r.restarts,
        activity: r.activity,
        lastError: r.lastError,
        pause: r.pause ? { switchoverId: r.pause.switchoverId, state: r.pause.state, forMs: Math.max(0, nowMs - r.pause.since), error: r.pause.error } : null,
      };
    });
}

function pids(r: RouterDescription): string {
  return `router ${r.pid}, haproxy ${r.haproxyPid ?? 'DOWN'}, pgbouncer ${r.poolerPids.map((p) => p ?? 'DOWN').join('/')}`;
}

/** Human lines for `ballast status` (empty when no router publishes). */
export function renderRouters(routers: RouterDescription[]): string[] {
  if (routers.length === 0) return ['routers: none publishing (no router running)'];
  const rows = routers.map((r) => [
    r.id,
    r.rwUp.join(',') || 'NONE',
    r.roUp.join(',') || 'NONE',
    `${r.pools.clientsActive}/${r.waitingClients}`,
    `${r.pools.serversActive}/${r.pools.serversIdle}`,
    `${r.restarts.haproxy}/${r.restarts.poolers}`,
    pids(r),
  ]);
  const out = ['', renderTable(['ROUTER', 'RW_UP', 'RO_UP', 'CLIENTS(act/wait)', 'SERVERS(act/idle)', 'RESTARTS(hap/pgb)', 'PIDS'], rows)];
  for (const r of routers) {
    const down = (t: Record<string, string>) => Object.entries(t).filter(([, s]) => s !== 'up').map(([m, s]) => `${m} ${s}`).join(', ') || 'none';
    out.push(`${r.id}: rw down/maint: ${down(r.backends.rw)}; ro down/maint: ${down(r.backends.ro)}; ports rw ${r.ports.rw} ro ${r.ports.ro} pooler ${r.ports.pooler}`);
    if (r.lastPush) out.push(`${r.id}: last push ${Math.round(r.lastPush.agoMs / 1000)} s ago: ${r.lastPush.reason}`);
    if (r.lastError) out.push(`${r.id}: last error: ${r.lastError}`);
    if (r.pause) out.push(`${r.id}: read-write pools ${r.pause.state.toUpperCase()} for switchover ${r.pause.switchoverId} (${Math.round(r.pause.forMs)} ms)${r.pause.error ? `: ${r.pause.error}` : ''}`);
    if (r.ageMs > 5000) out.push(`${r.id}: WARNING: status is ${Math.round(r.ageMs / 1000)} s old`);
  }
  return out;
}
