// Routing: the cluster's two stable endpoints, clients -> PgBouncer -> HAProxy -> PostgreSQL.
//
// Modes of the routing layer (per cluster):
// - stopped:   no HAProxy, no PgBouncer process (files may exist in the run dir).
// - running:   HAProxy listens on rwPort (backends checked against the agents' /primary) and
//              roPort (/replica with the lag limits, primary as backup when readFallback =
//              'primary'); poolerProcesses PgBouncer processes share poolerPort (so_reuseport).
//              The coordinator's view is pushed to HAProxy's runtime API at once
//              (planHaproxyUpdate), health checks stay the safety net.
// - paused:    every PgBouncer process is PAUSEd (switchover): clients wait, nothing errors.
//              pauseAll() -> paused -> resumeAll() -> running; a pause that does not complete
//              within pauseTimeoutMs is RESUMEd and reported as a TimeoutError (clean abort).
// Files: render-haproxy.ts / render-pgbouncer.ts (pure), processes.ts (files + pids),
// haproxy-admin.ts and pgbouncer-admin.ts (runtime control).
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { parseConfig } from '../domain/config.js';
import { NAME_PATTERN, type MemberName } from '../domain/types.js';

const port = z.number().int().min(1).max(65535);
const dbName = z.string().regex(NAME_PATTERN, 'must match ^[a-z][a-z0-9_]{0,30}$');

export const poolModeSchema = z.enum(['transaction', 'session']);
export type PoolMode = z.infer<typeof poolModeSchema>;

export const routingSpecSchema = z
  .object({
    /** Address HAProxy and PgBouncer listen on (loopback by default). */
    listenAddress: z.string().min(1).default('127.0.0.1'),
    /** HAProxy read-write listener (PgBouncer's `<db>` databases point here). */
    rwPort: port,
    /** HAProxy read-only listener (PgBouncer's `<db>_ro` databases point here). */
    roPort: port,
    /** The one TCP port every PgBouncer process listens on (SO_REUSEPORT). */
    poolerPort: port,
    /** PgBouncer is single-threaded: one process per core by default. */
    poolerProcesses: z.number().int().min(1).max(64).default(() => availableParallelism()),
    /** Pooled databases; each gets `<name>` (rw) and `<name>_ro` (ro) in PgBouncer. */
    databases: z
      .array(z.object({ name: dbName, poolMode: poolModeSchema.default('transaction') }).strict())
      .min(1)
      .default([{ name: 'app', poolMode: 'transaction' }]),
    /** Server connections per (database, user) pool, per PgBouncer process. */
    defaultPoolSize: z.number().int().min(1).max(10_000).default(20),
    /** Extra server connections a pool may open when a client waited reservePoolTimeoutMs. */
    reservePoolSize: z.number().int().min(0).max(10_000).default(5),
    reservePoolTimeoutMs: z.number().int().min(0).max(60_000).default(1000),
    /** Client connections per PgBouncer process. */
    maxClientConn: z.number().int().min(1).max(100_000).default(5000),
    /** Read pool lag limits (the agent's /replica?max_lag_bytes=&max_lag_ms=); null = no limit. */
    maxLagBytes: z.number().int().min(0).nullable().default(null),
    /** 60 s: the read-staleness SLO of the seeds. */
    maxLagMs: z.number().int().min(0).nullable().default(60_000),
    /** With no healthy replica: serve reads from the primary, or refuse connections. */
    readFallback: z.enum(['primary', 'refuse']).default('primary'),
    /** A switchover's PAUSE must complete (in-flight transactions end) within this, else abort. */
    pauseTimeoutMs: z.number().int().min(100).max(600_000).default(3000),
    /** HAProxy health checks against the agents' HTTP API. */
    healthCheck: z
      .object({
        intervalMs: z.number().int().min(50).max(60_000).default(500),
        fall: z.number().int().min(1).max(100).default(2),
        rise: z.number().int().min(1).max(100).default(2),
      })
      .strict()
      .default({}),
    /** HAProxy needs about two descriptors per connection: keep below the fd limit / 2. */
    haproxyMaxConn: z.number().int().min(1).max(1_000_000).default(4096),
    /** HAProxy client/server inactivity timeout: long, DB sessions idle for minutes. */
    sessionTimeoutMs: z.number().int().min(1000).default(3_600_000),
  })
  .strict()
  .superRefine((s, ctx) => {
    const ports = [s.rwPort, s.roPort, s.poolerPort];
    if (new Set(ports).size !== ports.length) ctx.addIssue({ code: 'custom', message: 'rwPort, roPort and poolerPort must differ' });
    const names = s.databases.map((d) => d.name);
    if (new Set(names).size !== names.length) ctx.addIssue({ code: 'custom', path: ['databases'], message: 'duplicate database name' });
    for (const n of names) {
      if (names.includes(readOnlyDatabase(n))) ctx.addIssue({ code: 'custom', path: ['databases'], message: `${n} clashes with the read-only alias of another database` });
    }
  });
export type RoutingSpec = z.infer<typeof routingSpecSchema>;
export type RoutingSpecInput = z.input<typeof routingSpecSchema>;

/** Validate a routing spec (throws InvalidInputError listing every problem). */
export function parseRoutingSpec(raw: unknown): RoutingSpec {
  return parseConfig(routingSpecSchema, raw, 'routing spec');
}

/** One Postgres member as HAProxy sees it: its postgres and its agent's health API. */
export interface RoutingMember {
  name: MemberName;
  host: string;
  port: number;
  apiHost: string;
  apiPort: number;
}

/** A login PgBouncer accepts; the password is plaintext and only ever written to 0600 files. */
export interface PoolerUser {
  user: string;
  password: string;
}

export interface PoolerCredentials {
  /** Application roles (they exist in PostgreSQL with the same passwords). */
  users: PoolerUser[];
  /** PgBouncer-only admin (console database `pgbouncer`); never a PostgreSQL role. */
  admin: PoolerUser;
}

/** Name of the pooler console admin (admin_users); a role that does not exist in PostgreSQL. */
export const POOLER_ADMIN_USER = 'ballast_pooler';

/** PgBouncer database names: `<db>` routes to the rw listener, `<db>_ro` to the ro listener. */
export function readOnlyDatabase(name: string): string {
  return `${name}_ro`;
}

/** HAProxy proxy names (fixed: the runtime API addresses servers as `<proxy>/<member>`). */
export const RW_PROXY = 'rw';
export const RO_PROXY = 'ro';

/** Name of the backup server in `ro` that tracks `rw/<member>` (members cannot contain '-'). */
export function fallbackServerName(member: MemberName): string {
  return `${member}-primary`;
}
