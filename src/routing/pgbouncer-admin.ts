// PgBouncer admin console client (database `pgbouncer`) for one pooler process, over that
// process's unix socket (the shared TCP port cannot address one process). The console speaks
// only the simple query protocol: every query here is a plain string without parameters,
// which node-postgres sends as a simple Query message. No startup parameters beyond the
// ones PgBouncer tracks are sent (no statement_timeout etc.).
//
// pauseAll: PAUSE returns only when every server connection of that process is released
// (in-flight transactions finished); new queries wait meanwhile. All processes are paused in
// parallel; if any fails or the deadline passes, every process is RESUMEd and the call rejects.
import pg from 'pg';
import { CommandFailedError, TimeoutError, errorMessage } from '../domain/errors.js';
import { NAME_PATTERN } from '../domain/types.js';

export interface PoolerEndpoint {
  /** unix_socket_dir of the process (or a TCP host). */
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface PoolRow {
  database: string;
  user: string;
  clActive: number;
  clWaiting: number;
  svActive: number;
  svIdle: number;
  svUsed: number;
  svTested: number;
  svLogin: number;
  maxwaitUs: number;
  poolMode: string;
}

export interface ConnectionRow {
  type: string;
  user: string;
  database: string;
  state: string;
  addr: string;
  port: number;
}

export type StatsRow = Record<string, string | number | null>;

type RawRow = Record<string, unknown>;

const num = (v: unknown): number => (v === null || v === undefined || v === '' ? 0 : Number(v));
const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));

function checkDb(db: string | undefined): string {
  if (db === undefined) return '';
  if (!NAME_PATTERN.test(db)) throw new CommandFailedError(`invalid database name ${JSON.stringify(db)}`);
  return ` ${db}`;
}

export class PgbouncerAdmin {
  constructor(readonly endpoint: PoolerEndpoint, private readonly timeoutMs = 5000) {}

  private async withClient<T>(fn: (c: pg.Client) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const c = new pg.Client({
      host: this.endpoint.host,
      port: this.endpoint.port,
      user: this.endpoint.user,
      password: this.endpoint.password,
      database: 'pgbouncer',
      connectionTimeoutMillis: this.timeoutMs,
    });
    c.on('error', () => undefined);
    // Aborting closes the connection: a command waiting in the console (PAUSE) is abandoned.
    const abort = () => void c.end().catch(() => undefined);
    signal?.addEventListener('abort', abort, { once: true });
    try {
      try {
        await c.connect();
      } catch (e) {
        throw new CommandFailedError(`cannot reach the pooler console at ${this.endpoint.host}:${this.endpoint.port}: ${errorMessage(e)}`, { cause: e });
      }
      return await fn(c);
    } finally {
      signal?.removeEventListener('abort', abort);
      await c.end().catch(() => undefined);
    }
  }

  /** One console command (simple protocol), rows as returned. */
  async run(command: string, signal?: AbortSignal): Promise<RawRow[]> {
    return this.withClient(async (c) => {
      try {
        return (await c.query(command)).rows as RawRow[];
      } catch (e) {
        throw new CommandFailedError(`pooler console "${command}" failed: ${errorMessage(e)}`, { cause: e });
      }
    }, signal);
  }

  async showPools(): Promise<PoolRow[]> {
    return (await this.run('SHOW POOLS')).map((r) => ({
      database: str(r.database),
      user: str(r.user),
      clActive: num(r.cl_active),
      clWaiting: num(r.cl_waiting),
      svActive: num(r.sv_active),
      svIdle: num(r.sv_idle),
      svUsed: num(r.sv_used),
      svTested: num(r.sv_tested),
      svLogin: num(r.sv_login),
      maxwaitUs: num(r.maxwait) * 1_000_000 + num(r.maxwait_us),
      poolMode: str(r.pool_mode),
    }));
  }

  private async connections(what: 'CLIENTS' | 'SERVERS'): Promise<ConnectionRow[]> {
    return (await this.run(`SHOW ${what}`)).map((r) => ({
      type: str(r.type),
      user: str(r.user),
      database: str(r.database),
      state: str(r.state),
      addr: str(r.addr),
      port: num(r.port),
    }));
  }

  showClients(): Promise<ConnectionRow[]> {
    return this.connections('CLIENTS');
  }

  showServers(): Promise<ConnectionRow[]> {
    return this.connections('SERVERS');
  }

  /** SHOW STATS: per database counters (numbers where numeric). */
  async showStats(): Promise<StatsRow[]> {
    return (await this.run('SHOW STATS')).map((r) => {
      const out: StatsRow = {};
      for (const [k, v] of Object.entries(r)) out[k] = k === 'database' ? str(v) : v === null ? null : Number.isFinite(Number(v)) ? Number(v) : str(v);
      return out;
    });
  }

  /** PAUSE [db]: resolves once every server connection is released (blocks meanwhile). */
  async pause(db?: string, signal?: AbortSignal): Promise<void> {
    await this.run(`PAUSE${checkDb(db)}`, signal);
  }

  /** RESUME [db]; a pooler that is not paused counts as resumed. */
  async resume(db?: string): Promise<void> {
    try {
      await this.run(`RESUME${checkDb(db)}`);
    } catch (e) {
      if (/not paused|not suspended/i.test(errorMessage(e))) return;
      throw e;
    }
  }

  /** RECONNECT [db]: close every server connection once released; new ones connect afresh. */
  async reconnect(db?: string): Promise<void> {
    await this.run(`RECONNECT${checkDb(db)}`);
  }
}

/**
 * PAUSE every pooler process (optionally one database) within timeoutMs. Resolves when all
 * are paused. On timeout or any failure it RESUMEs all and rejects (TimeoutError on timeout).
 */
export async function pauseAll(poolers: PgbouncerAdmin[], timeoutMs: number, db?: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`PAUSE did not complete within ${timeoutMs} ms (transactions still in flight); resumed`)), timeoutMs);
  });
  const abort = new AbortController();
  const pauses = poolers.map((p) => p.pause(db, abort.signal));
  // Settle-tracking: a pause that completes after the abort must not become an unhandled rejection.
  for (const p of pauses) p.catch(() => undefined);
  try {
    await Promise.race([Promise.all(pauses), deadline]);
  } catch (e) {
    abort.abort();
    await resumeAll(poolers, db).catch(() => undefined);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** RESUME every pooler process; tries all, then reports the first failure. */
export async function resumeAll(poolers: PgbouncerAdmin[], db?: string): Promise<void> {
  const results = await Promise.allSettled(poolers.map((p) => p.resume(db)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw new CommandFailedError(`RESUME failed on a pooler: ${errorMessage(failed.reason)}`, { cause: failed.reason });
}
