// A write workload that records exactly which writes were acknowledged, for proving that none
// is lost. Each write inserts a unique id in autocommit; a write counts as acknowledged only when
// COMMIT returned success. Failed or timed-out writes are "unknown" (they may or may not have
// committed) and are never counted as acknowledged.
//
// node-postgres has no multi-host URIs, so the writer does what libpq's
// target_session_attrs=read-write does: try each member, keep the one that is not read-only.
import { performance } from 'node:perf_hooks';
import pg from 'pg';

export interface WriterTarget {
  hosts: { host: string; port: number }[];
  user: string;
  password: string;
  database: string;
}

export interface Ack {
  id: number;
  /** performance.now() when COMMIT returned. */
  at: number;
}

export interface WriterResult {
  acked: Ack[];
  failures: { id: number; at: number; error: string }[];
  attempts: number;
}

export const WRITES_TABLE = 'ballast_acked_writes';
/** Pause between rounds of connection attempts, and after a failed write. */
const RETRY_MS = 20;

export class Writer {
  private stopped = false;
  private done: Promise<void> | null = null;
  private client: pg.Client | null = null;
  readonly result: WriterResult = { acked: [], failures: [], attempts: 0 };
  private nextId: number;

  constructor(private readonly target: WriterTarget, opts: { firstId?: number; queryTimeoutMs?: number; pauseMs?: number } = {}) {
    this.nextId = opts.firstId ?? 1;
    this.queryTimeoutMs = opts.queryTimeoutMs ?? 3000;
    this.pauseMs = opts.pauseMs ?? 0;
  }
  private readonly queryTimeoutMs: number;
  private readonly pauseMs: number;

  /** Create the table (if needed) and start writing in the background. */
  async start(): Promise<void> {
    const c = await this.connectWritable(30_000);
    await c.query(`CREATE TABLE IF NOT EXISTS ${WRITES_TABLE} (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`);
    this.client = c;
    this.done = this.loop();
  }

  async stop(): Promise<WriterResult> {
    this.stopped = true;
    await this.done;
    await this.client?.end().catch(() => undefined);
    this.client = null;
    return this.result;
  }

  lastAckAt(): number | null {
    return this.result.acked[this.result.acked.length - 1]?.at ?? null;
  }

  /** Wait until at least `n` more writes are acknowledged (bounded). */
  async waitForAcks(n: number, timeoutMs = 30_000): Promise<void> {
    const goal = this.result.acked.length + n;
    const end = performance.now() + timeoutMs;
    while (this.result.acked.length < goal) {
      if (performance.now() > end) throw new Error(`writer: fewer than ${n} acknowledged writes within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const id = this.nextId++;
      this.result.attempts += 1;
      try {
        this.client ??= await this.connectWritable(2_000);
        await this.client.query(`INSERT INTO ${WRITES_TABLE}(id) VALUES ($1)`, [id]);
        this.result.acked.push({ id, at: performance.now() });
      } catch (e) {
        this.result.failures.push({ id, at: performance.now(), error: (e as Error).message });
        const c = this.client;
        this.client = null;
        await c?.end().catch(() => undefined);
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
      if (this.pauseMs) await new Promise((r) => setTimeout(r, this.pauseMs));
    }
  }

  /**
   * Ask every member at once and keep the first that is not read-only (the others are closed).
   * In parallel rather than one host after the other, so a failover or switchover costs the
   * writer one round of connection attempts (~20 ms apart), not one per member.
   */
  private async connectWritable(timeoutMs: number): Promise<pg.Client> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const c = await this.firstWritable();
      if (c) return c;
      if (performance.now() > end) throw new Error('no writable member found');
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  private firstWritable(): Promise<pg.Client | null> {
    return new Promise((resolve) => {
      let pending = this.target.hosts.length;
      let chosen: pg.Client | null = null;
      for (const h of this.target.hosts) {
        const c = new pg.Client({
          host: h.host, port: h.port, user: this.target.user, password: this.target.password, database: this.target.database,
          connectionTimeoutMillis: 1000, query_timeout: this.queryTimeoutMs,
        });
        c.on('error', () => undefined);
        void (async () => {
          let writable = false;
          try {
            await c.connect();
            const r = await c.query<{ transaction_read_only: string }>('SHOW transaction_read_only');
            writable = r.rows[0]?.transaction_read_only === 'off';
          } catch {
            /* down, starting or unreachable */
          }
          if (writable && chosen === null) {
            chosen = c;
            resolve(c);
          } else {
            await c.end().catch(() => undefined);
          }
          if (--pending === 0 && chosen === null) resolve(null);
        })();
      }
    });
  }
}

/** Acknowledged ids missing from the given present ids. */
export function missingAcks(acked: Ack[], present: Iterable<number | string>): number[] {
  const have = new Set<number>();
  for (const p of present) have.add(Number(p));
  return acked.filter((a) => !have.has(a.id)).map((a) => a.id);
}

/** Write outage around an event at `t`: from `t` to the first acknowledgement after it. */
export function outageAfter(acked: Ack[], t: number): number | null {
  const first = acked.find((a) => a.at > t);
  return first ? first.at - t : null;
}

/** Longest gap between consecutive acknowledgements inside [from, to]. */
export function longestGap(acked: Ack[], from: number, to: number): number {
  let gap = 0;
  let prev = from;
  for (const a of acked) {
    if (a.at < from) continue;
    if (a.at > to) break;
    gap = Math.max(gap, a.at - prev);
    prev = a.at;
  }
  return Math.max(gap, to - prev);
}
