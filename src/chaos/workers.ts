// The chaos run's helper processes, each started by the harness inside a host's namespace
// (`ballast chaos worker ROLE --config DIR/worker.json`), each writing what it saw to files in
// the run directory (times are epoch milliseconds, one clock: one machine):
// - observer (client host): writes the cluster spec once etcd answers, then samples the
//   cluster (view, roles, coordinator leader) every 200 ms: observe-latest.json (atomic) and
//   observe.jsonl (a line whenever something changed, and every 5 s).
// - workload (client host): writes through the read-write endpoint (PgBouncer -> HAProxy);
//   every write appends a unique id to a per-key list (acks.jsonl: acknowledged or failed);
//   on SIGTERM it stops writing and reads every list back (final.json).
// - prober (each Postgres host, against its own postgres on the host's address, which no
//   network fault cuts): SELECT pg_is_in_recovery() and a real write with a short statement
//   timeout, every 100 ms (probes-<member>.jsonl).
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describeCluster } from '../cli/describe.js';
import { nextSignal } from '../cli/process-commands.js';
import { APP_DATABASE, APP_USER, loadJsonFile, secretsSchema } from '../domain/config.js';
import { errorMessage } from '../domain/errors.js';
import { defaultSpec } from '../domain/types.js';
import { sleep } from '../local/proc.js';
import { writeFileAtomic } from '../local/state.js';
import { createEtcdStore } from '../store/etcd-store.js';
import type { WorkerConfig } from './deploy.js';
import { lagMagnitude, type AckRecord, type ObserveSample, type ProbeRecord } from './history.js';

export const LISTS_TABLE = 'chaos_lists';
export const PROBE_TABLE = 'chaos_probe';
const WORKLOAD_LOOPS = 4;
const KEY_ROTATE = 500;

function readConfig(file: string): WorkerConfig {
  return JSON.parse(readFileSync(file, 'utf8')) as WorkerConfig;
}

function appPassword(cfg: WorkerConfig): string {
  return loadJsonFile(secretsSchema, cfg.secretsFile, 'secrets file').appPassword;
}

/** Buffered JSONL appends, flushed every 200 ms and at the end. */
class Jsonl {
  private buf: string[] = [];
  private timer: NodeJS.Timeout;
  constructor(private readonly path: string) {
    this.timer = setInterval(() => this.flush(), 200);
  }
  push(v: unknown): void {
    this.buf.push(JSON.stringify(v));
  }
  flush(): void {
    if (this.buf.length === 0) return;
    appendFileSync(this.path, `${this.buf.join('\n')}\n`, { mode: 0o640 });
    this.buf = [];
  }
  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

export async function runWorker(role: string, configFile: string, member: string | undefined, log: (l: string) => void): Promise<void> {
  const cfg = readConfig(configFile);
  const sig = nextSignal();
  let stopped = false;
  void sig.signal.then(() => {
    stopped = true;
  });
  const stop = () => stopped;
  try {
    if (role === 'observer') await observer(cfg, stop, log);
    else if (role === 'workload') await workload(cfg, stop, log);
    else if (role === 'prober') {
      const m = cfg.members.find((x) => x.name === member);
      if (!m) throw new Error(`prober: unknown member ${member}`);
      await prober(cfg, m, stop);
    } else throw new Error(`unknown worker role ${role}`);
  } finally {
    sig.dispose();
  }
}

async function observer(cfg: WorkerConfig, stopped: () => boolean, log: (l: string) => void): Promise<void> {
  const store = createEtcdStore(cfg.etcd, { callTimeoutMs: 2000 });
  const out = new Jsonl(join(cfg.dir, 'observe.jsonl'));
  try {
    while (!stopped()) {
      try {
        await store.ensureSpec(cfg.cluster, defaultSpec(cfg.cluster));
        log('observer: cluster spec in place');
        break;
      } catch (e) {
        log(`observer: waiting for etcd: ${errorMessage(e)}`);
        await sleep(500);
      }
    }
    let lastSig = '';
    let lastLine = 0;
    while (!stopped()) {
      const t = Date.now();
      let sample: ObserveSample;
      try {
        const snap = await store.readCluster(cfg.cluster);
        const d = describeCluster(snap, cfg.members, t);
        sample = {
          t, ok: true, leader: d.coordinator, primary: d.view?.primary ?? null, generation: d.view?.generation ?? null,
          syncStandbys: d.view?.syncStandbys ?? [], syncConfirmed: d.view?.syncConfirmed ?? [], reason: d.view?.reason ?? null,
          roles: Object.fromEntries(d.members.map((m) => [m.name, m.role])),
          lagBytes: Object.fromEntries(d.members.map((m) => [m.name, m.lagBytes])),
        };
      } catch (e) {
        sample = { t, ok: false, error: errorMessage(e).slice(0, 200) };
      }
      writeFileAtomic(join(cfg.dir, 'observe-latest.json'), JSON.stringify(sample), 0o644);
      const lagSig = sample.ok ? Object.fromEntries(Object.entries(sample.lagBytes).map(([m, b]) => [m, lagMagnitude(b)])) : undefined;
      const sigText = JSON.stringify({ ...sample, t: 0, lagBytes: lagSig, reason: undefined, error: undefined });
      if (sigText !== lastSig || t - lastLine > 5000) {
        out.push(sample);
        lastSig = sigText;
        lastLine = t;
      }
      await sleep(200);
    }
    // For the report and for diagnosis: the cluster's own account of what happened.
    try {
      const events = await store.listEvents(cfg.cluster, 2000);
      writeFileAtomic(join(cfg.dir, 'events.json'), JSON.stringify(events), 0o644);
    } catch (e) {
      log(`observer: could not read the events: ${errorMessage(e)}`);
    }
  } finally {
    out.close();
    await store.close().catch(() => undefined);
  }
}

function rwClient(cfg: WorkerConfig, password: string): pg.Client {
  const c = new pg.Client({
    host: cfg.rw.host, port: cfg.rw.port, user: APP_USER, password, database: APP_DATABASE,
    connectionTimeoutMillis: 2000, query_timeout: 5000,
  });
  c.on('error', () => undefined);
  return c;
}

async function workload(cfg: WorkerConfig, stopped: () => boolean, log: (l: string) => void): Promise<void> {
  const password = appPassword(cfg);
  // Tables first (retried until the read-write endpoint answers).
  for (;;) {
    if (stopped()) return;
    const c = rwClient(cfg, password);
    try {
      await c.connect();
      await c.query(`CREATE TABLE IF NOT EXISTS ${LISTS_TABLE} (k text PRIMARY KEY, ids bigint[] NOT NULL)`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${PROBE_TABLE} (member text PRIMARY KEY, n bigint NOT NULL, at timestamptz NOT NULL)`);
      break;
    } catch (e) {
      log(`workload: waiting for the read-write endpoint: ${errorMessage(e)}`);
      await sleep(500);
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  log('workload: writing');
  const out = new Jsonl(join(cfg.dir, 'acks.jsonl'));
  let nextId = 1;
  const loop = async (w: number) => {
    let c: pg.Client | null = null;
    let n = 0;
    while (!stopped()) {
      const id = nextId++;
      const k = `w${w}-${Math.floor(n / KEY_ROTATE)}`;
      n += 1;
      const s = Date.now();
      try {
        if (!c) {
          c = rwClient(cfg, password);
          await c.connect();
        }
        await c.query(
          `INSERT INTO ${LISTS_TABLE}(k, ids) VALUES ($1, ARRAY[$2::bigint]) ON CONFLICT (k) DO UPDATE SET ids = ${LISTS_TABLE}.ids || EXCLUDED.ids`,
          [k, id],
        );
        out.push({ k, id, s, e: Date.now(), ok: true } satisfies AckRecord);
      } catch (e) {
        out.push({ k, id, s, e: Date.now(), ok: false, err: errorMessage(e).slice(0, 120) } satisfies AckRecord);
        const old = c;
        c = null;
        await old?.end().catch(() => undefined);
        await sleep(50);
      }
      await sleep(20);
    }
    await c?.end().catch(() => undefined);
  };
  await Promise.all(Array.from({ length: WORKLOAD_LOOPS }, (_, w) => loop(w)));
  out.close();
  log('workload: stopped; reading the lists back');
  const deadline = Date.now() + 120_000;
  for (;;) {
    const c = rwClient(cfg, password);
    try {
      await c.connect();
      const rows = (await c.query<{ k: string; ids: string[] }>(`SELECT k, ids::text[] AS ids FROM ${LISTS_TABLE}`)).rows;
      writeFileAtomic(join(cfg.dir, 'final.json'), JSON.stringify({ t: Date.now(), rows: rows.map((r) => ({ k: r.k, ids: r.ids.map(Number) })) }), 0o644);
      log(`workload: read ${rows.length} lists`);
      return;
    } catch (e) {
      if (Date.now() > deadline) {
        writeFileAtomic(join(cfg.dir, 'final.json'), JSON.stringify({ t: Date.now(), error: errorMessage(e) }), 0o644);
        return;
      }
      await sleep(1000);
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

async function prober(cfg: WorkerConfig, m: { name: string; host: string; port: number }, stopped: () => boolean): Promise<void> {
  const password = appPassword(cfg);
  const out = new Jsonl(join(cfg.dir, `probes-${m.name}.jsonl`));
  let c: pg.Client | null = null;
  let syncWarning = false;
  let n = 0;
  try {
    while (!stopped()) {
      const s = Date.now();
      let rec: ProbeRecord;
      try {
        if (!c) {
          const nc = new pg.Client({
            host: m.host, port: m.port, user: APP_USER, password, database: APP_DATABASE,
            connectionTimeoutMillis: 1000, query_timeout: 2000, statement_timeout: 1000,
          });
          nc.on('error', () => undefined);
          nc.on('notice', (msg) => {
            if (/synchronous replication/i.test(msg.message ?? '')) syncWarning = true;
          });
          c = nc;
          await nc.connect();
        }
        const r = await c.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec');
        if (r.rows[0]?.rec !== false) rec = { m: m.name, s, e: Date.now(), o: 'r' };
        else {
          syncWarning = false;
          const w = await c.query<{ x: number }>(
            `INSERT INTO ${PROBE_TABLE}(member, n, at) VALUES ($1, $2, now()) ON CONFLICT (member) DO UPDATE SET n = EXCLUDED.n, at = EXCLUDED.at
             RETURNING (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS x`,
            [m.name, ++n],
          );
          // A commit whose wait for the synchronous standby was cancelled returns "success"
          // with a warning: committed locally, never acknowledged as replicated.
          rec = { m: m.name, s, x: w.rows[0]?.x ?? s, e: Date.now(), o: syncWarning ? 'l' : 'w' };
        }
      } catch (e) {
        rec = { m: m.name, s, e: Date.now(), o: 'e', err: errorMessage(e).slice(0, 100) };
        const old = c;
        c = null;
        await old?.end().catch(() => undefined);
      }
      out.push(rec);
      await sleep(100);
    }
  } finally {
    out.close();
    await c?.end().catch(() => undefined);
  }
}
