// What a router (HAProxy + PgBouncer driver, one per client-side host) publishes to etcd under
// its lease at /ballast/<cluster>/routers/<id>. Pure types; no secrets in here.
import type { MemberName, RouterPause } from './types.js';

/** One HAProxy server as the router last saw it. */
export interface RouterBackend {
  /** 'rw' or 'ro'. */
  proxy: string;
  /** HAProxy server name: the member, or `<member>-primary` for the ro fallback servers. */
  server: string;
  member: MemberName;
  /** The ro fallback to the primary (a `backup` server tracking rw/<member>). */
  backup: boolean;
  /** 'up', 'down' (checks fail) or 'maint' (forced by the router or inherited). */
  state: 'up' | 'down' | 'maint';
}

/** SHOW POOLS summed over the application pools of one or all pooler processes. */
export interface PoolSummary {
  clientsActive: number;
  clientsWaiting: number;
  serversActive: number;
  serversIdle: number;
  serversUsed: number;
  /** Longest wait of a waiting client, ms. */
  maxWaitMs: number;
}

export interface PoolerProcessStatus extends PoolSummary {
  index: number;
  pid: number | null;
  /** Why its console could not be read (null when it answered). */
  error: string | null;
}

export interface RouterPush {
  at: number;
  /** Primary the push routed rw to (null: nothing forced). */
  primary: MemberName | null;
  primaryReady: boolean;
  /** Why the router pushed and what HAProxy was told, in plain English. */
  reason: string;
  commands: string[];
}

export interface RouterStatus {
  id: string;
  cluster: string;
  /** Router process pid and wall clock of this publish. */
  pid: number;
  at: number;
  seq: number;
  listen: { address: string; rwPort: number; roPort: number; poolerPort: number };
  haproxy: { pid: number | null; backends: RouterBackend[] };
  poolers: PoolerProcessStatus[];
  pools: PoolSummary;
  lastPush: RouterPush | null;
  /** Restarts of dead routing processes since the router started. */
  restarts: { haproxy: number; poolers: number };
  activity: string;
  lastError: string | null;
  /** Switchover pause of the read-write transaction pools (null when not paused). */
  pause?: RouterPause | null;
}
