// End-to-end harness: a real local Ballast cluster started through the CLI (`ballast up
// --detach --json`), inspected through the store, broken by pid, and always stopped through
// `ballast down`. Used by test/e2e and bench/.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import pg from 'pg';
import { describeCluster, type ClusterDescription } from '../cli/describe.js';
import { secretsSchema, APP_DATABASE, APP_USER, SUPERUSER, type Secrets } from '../domain/config.js';
import { layoutOf } from '../local/layout.js';
import { postmasterOf } from '../local/proc.js';
import type { ClusterEvent, ClusterView, MemberStatus } from '../domain/types.js';
import { readState, type DeploymentState } from '../local/state.js';
import { routerConfigs, routingLayoutOf } from '../local/routing.js';
import { routingPids } from '../routing/processes.js';
import { createEtcdStore } from '../store/etcd-store.js';
import type { Store } from '../store/store.js';
import { makeTempDir } from './tmp.js';
import { missingAcks, WRITES_TABLE, type Ack, type WriterTarget } from './writer.js';

const run = promisify(execFile);
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BALLAST_BIN = join(REPO, 'bin', 'ballast.js');

export interface UpInfo {
  cluster: string;
  dir: string;
  /** rw: through PgBouncer to the primary; ro: through PgBouncer to a standby; direct: multi-host libpq URI. */
  endpoints: { rw: string; ro?: string; direct?: string };
  members: { name: string; host: string; port: number }[];
  etcd: string[];
}

/** Run the CLI; resolves with stdout, rejects with stderr on a non-zero exit. */
export async function ballast(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 180_000): Promise<string> {
  try {
    const r = await run(process.execPath, [BALLAST_BIN, ...args], { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 });
    return r.stdout;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`ballast ${args.join(' ')} failed: ${err.stderr || err.stdout || err.message}`);
  }
}

export class TestCluster {
  private store: Store;
  readonly secrets: Secrets;
  private constructor(readonly dir: string, readonly info: UpInfo, private readonly ownsDir: boolean) {
    this.store = createEtcdStore(info.etcd);
    this.secrets = secretsSchema.parse(JSON.parse(readFileSync(layoutOf(dir).secrets, 'utf8')));
  }

  /** Start a cluster in a fresh temp dir (or `dir`). restartDelayMs: supervisor restart delay. */
  static async start(opts: { members?: number; restartDelayMs?: number; dir?: string; upArgs?: string[] } = {}): Promise<TestCluster> {
    const dir = opts.dir ?? (await makeTempDir('ballast-e2e-'));
    const env = { BALLAST_RESTART_DELAY_MS: String(opts.restartDelayMs ?? 3000) };
    try {
      const out = await ballast(['up', '--dir', dir, '--members', String(opts.members ?? 3), '--detach', '--json', ...(opts.upArgs ?? [])], env);
      return new TestCluster(dir, JSON.parse(out) as UpInfo, opts.dir === undefined);
    } catch (e) {
      await ballast(['down', '--dir', dir]).catch(() => undefined);
      if (opts.dir === undefined) await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Manage a cluster some other command started (e.g. `ballast restore --json` printed `info`). */
  static adopt(dir: string, info: UpInfo): TestCluster {
    return new TestCluster(dir, info, true);
  }

  state(): DeploymentState {
    const s = readState(layoutOf(this.dir).state);
    if (!s) throw new Error(`no state file in ${this.dir}`);
    return s;
  }

  async describe(): Promise<ClusterDescription> {
    const snap = await this.store.readCluster(this.info.cluster);
    return describeCluster(snap, this.info.members, Date.now());
  }

  /** The raw cluster view document (generation, primary, primarySince, ...), or null. */
  async view(): Promise<ClusterView | null> {
    return (await this.store.readCluster(this.info.cluster)).view;
  }

  /** Raw member statuses as published (seq, at, agentPid, ...), straight from the store. */
  async memberStatuses(): Promise<MemberStatus[]> {
    return (await this.store.readCluster(this.info.cluster)).members;
  }

  /** Events with their timestamps and levels (oldest first, the newest `limit`). */
  async eventRecords(limit = 200): Promise<ClusterEvent[]> {
    return this.store.listEvents(this.info.cluster, limit);
  }

  async events(limit = 200): Promise<string[]> {
    return (await this.store.listEvents(this.info.cluster, limit)).map((e) => `${e.source}: ${e.message}`);
  }

  /** Poll until `pred` holds; the error names what we waited for and the last description. */
  async waitFor(what: string, pred: (d: ClusterDescription) => boolean, timeoutMs = 60_000): Promise<ClusterDescription> {
    const end = Date.now() + timeoutMs;
    let last: ClusterDescription | null = null;
    for (;;) {
      try {
        last = await this.describe();
        if (pred(last)) return last;
      } catch {
        /* etcd may be down on purpose */
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last?.members.map((m) => [m.name, m.role, m.postgres, m.activity]))} view: ${last?.view?.reason}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** All members healthy: one primary, one sync (with 3 members), the rest async; returns the primary's name. */
  async waitHealthy(timeoutMs = 90_000): Promise<ClusterDescription> {
    const n = this.info.members.length;
    return this.waitFor('a healthy cluster', (d) => {
      const roles = d.members.map((m) => m.role);
      return roles.filter((r) => r === 'primary').length === 1 && roles.filter((r) => r === 'primary' || r === 'sync' || r === 'async').length === n
        && (n === 1 || (d.view?.syncConfirmed.length ?? 0) > 0);
    }, timeoutMs);
  }

  async primary(): Promise<string> {
    const d = await this.describe();
    const p = d.members.find((m) => m.role === 'primary');
    if (!p) throw new Error('no primary right now');
    return p.name;
  }

  port(member: string): number {
    const m = this.info.members.find((x) => x.name === member);
    if (!m) throw new Error(`unknown member ${member}`);
    return m.port;
  }

  /** A URI for the app database on one member (direct, no routing). */
  memberUri(member: string): string {
    return `postgresql://${APP_USER}:${encodeURIComponent(this.secrets.appPassword)}@127.0.0.1:${this.port(member)}/${APP_DATABASE}`;
  }

  async query<T extends pg.QueryResultRow = pg.QueryResultRow>(member: string, sql: string, params: unknown[] = []): Promise<T[]> {
    const c = new pg.Client({ connectionString: this.memberUri(member), connectionTimeoutMillis: 3000 });
    await c.connect();
    try {
      return (await c.query<T>(sql, params)).rows;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /** One query as the superuser (e.g. pg_wal_replay_pause()) on `member`, over TCP with SCRAM. */
  async superQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(member: string, sql: string): Promise<T[]> {
    const c = new pg.Client({ host: '127.0.0.1', port: this.port(member), user: SUPERUSER, password: this.secrets.superuserPassword, database: 'postgres', connectionTimeoutMillis: 3000 });
    c.on('error', () => undefined);
    await c.connect();
    try {
      return (await c.query<T>(sql)).rows;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /** Verified pids of the first router's HAProxy (master) and PgBouncer processes, and the router's own. */
  async routingPids(): Promise<{ router: number | null; haproxy: number | null; poolers: (number | null)[] }> {
    const state = this.state();
    const [cfg] = routerConfigs(state, layoutOf(this.dir));
    if (!cfg) throw new Error(`no router config in ${this.dir}`);
    const pids = await routingPids(routingLayoutOf(cfg));
    return { router: state.routers?.find((r) => r.id === cfg.id)?.proc?.pid ?? null, ...pids };
  }

  /** One query on a fresh connection to `uri` (an endpoint), closed afterwards. */
  async queryUri<T extends pg.QueryResultRow = pg.QueryResultRow>(uri: string, sql: string, timeoutMs = 3000): Promise<T[]> {
    const c = new pg.Client({ connectionString: uri, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return (await c.query<T>(sql)).rows;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  writerTarget(): WriterTarget {
    return { hosts: this.info.members.map((m) => ({ host: m.host, port: m.port })), user: APP_USER, password: this.secrets.appPassword, database: APP_DATABASE };
  }

  /** Acknowledged writes missing on `member` (read directly from it). */
  /**
   * Acknowledged ids missing on `member`. Its postgres may be restarting right after a fault
   * (e.g. a fenced primary starting again once etcd is back): connection failures are retried
   * for up to 30 s; a query that runs decides.
   */
  async missingOn(member: string, acked: Ack[]): Promise<number[]> {
    const end = performance.now() + 30_000;
    for (;;) {
      try {
        const rows = await this.query<{ id: string }>(member, `SELECT id FROM ${WRITES_TABLE}`);
        return missingAcks(acked, rows.map((r) => r.id));
      } catch (e) {
        const code = (e as { code?: string }).code;
        const transient = code === 'ECONNREFUSED' || code === '57P03' || /starting up|shutting down|Connection terminated/i.test((e as Error).message);
        if (!transient || performance.now() > end) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** Pids of one member's "host": its agent, its postmaster and the postmaster's children. */
  pids(member: string): { agent: number | null; postmaster: number | null; children: number[] } {
    const agent = this.state().members.find((m) => m.name === member)?.proc?.pid ?? null;
    const pm = postmasterOf(layoutOf(this.dir).memberData(member))?.pid ?? null;
    return { agent, postmaster: pm, children: pm ? childrenOf(pm) : [] };
  }

  /** Host crash: kill -9 the agent, the postmaster and every postgres child at once. */
  killHost(member: string): void {
    const p = this.pids(member);
    for (const pid of [p.agent, p.postmaster, ...p.children]) if (pid) signal(pid, 'SIGKILL');
  }

  /** kill -9 of the postmaster alone (its children notice and exit). */
  killPostgres(member: string): void {
    const p = this.pids(member);
    if (p.postmaster) signal(p.postmaster, 'SIGKILL');
  }

  /** SIGSTOP (or SIGCONT) the agent, the postmaster and its children. Returns the pids signalled. */
  freezeHost(member: string, sig: 'SIGSTOP' | 'SIGCONT', pids?: number[]): number[] {
    const p = this.pids(member);
    const list = pids ?? [p.agent, p.postmaster, ...p.children].filter((x): x is number => x !== null);
    for (const pid of list) signal(pid, sig);
    return list;
  }

  /** SIGSTOP/SIGCONT the etcd server (unreachable, but the supervisor does not restart it). */
  freezeEtcd(sig: 'SIGSTOP' | 'SIGCONT'): void {
    const pid = this.state().etcd.proc?.pid;
    if (!pid) throw new Error('etcd pid unknown');
    signal(pid, sig);
  }

  async switchover(to?: string): Promise<unknown> {
    const out = await ballast(['switchover', '--dir', this.dir, '--json', ...(to ? ['--to', to] : [])]);
    return JSON.parse(out);
  }

  /** Logs of the deployment, for failure messages. */
  logTail(name: string, lines = 40): string {
    try {
      return readFileSync(layoutOf(this.dir).log(name), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** The postgres server log of one member (DIR/members/<name>/postgres.log), for failure messages. */
  pgLogTail(member: string, lines = 30): string {
    try {
      return readFileSync(join(layoutOf(this.dir).memberDir(member), 'postgres.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Everything a red run needs: the view, members, recent events and the named members' logs. */
  async diagnostics(members: string[] = this.info.members.map((m) => m.name)): Promise<string> {
    const out: string[] = [];
    let leader: string | null = null;
    try {
      const d = await this.describe();
      leader = d.coordinator;
      out.push(`view: ${JSON.stringify(d.view)}`);
      for (const m of d.members) out.push(`${m.name}: ${m.role} ${m.postgres} tl=${m.timeline} lsn=${m.lsn} lag=${m.lagBytes} rejoin=${JSON.stringify(m.rejoin)} activity=${m.activity} error=${m.lastError}`);
    } catch (e) {
      out.push(`describe failed: ${(e as Error).message}`);
    }
    try {
      out.push('events:', ...(await this.events(40)).slice(-40));
    } catch (e) {
      out.push(`events failed: ${(e as Error).message}`);
    }
    for (const m of members) out.push(`--- ${m} agent log ---`, this.logTail(m, 25), `--- ${m} postgres log ---`, this.pgLogTail(m, 15));
    // The leading coordinator's log (all of them when none leads: one may be crash-looping).
    let coordinators: string[] = [];
    try {
      coordinators = this.state().coordinators.map((c) => c.id);
    } catch {
      /* no state file */
    }
    const leaderId = coordinators.find((c) => leader !== null && leader.includes(c));
    for (const c of leaderId ? [leaderId] : coordinators) out.push(`--- coordinator ${c} log ---`, this.logTail(c, 25));
    return out.join('\n');
  }

  /** Poll until no acknowledged write is missing on `member`; returns the ids still missing at the deadline. */
  async waitNoneMissing(member: string, acked: Ack[], timeoutMs = 30_000): Promise<number[]> {
    const end = Date.now() + timeoutMs;
    let missing: number[] = acked.map((a) => a.id);
    for (;;) {
      try {
        missing = await this.missingOn(member, acked);
        if (missing.length === 0) return missing;
      } catch {
        /* member may be restarting */
      }
      if (Date.now() > end) return missing;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * Sample the view in the background (every `intervalMs`) until stop(): every primary and
   * generation seen, for "no failover happened" and "sync set moved" assertions.
   */
  watchView(intervalMs = 100): { samples: ViewSample[]; stop(): Promise<ViewSample[]> } {
    const samples: ViewSample[] = [];
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        try {
          const d = await this.describe();
          if (d.view) {
            samples.push({
              at: performance.now(), generation: d.view.generation, primary: d.view.primary,
              syncStandbys: d.view.syncStandbys, syncConfirmed: d.view.syncConfirmed,
              roles: Object.fromEntries(d.members.map((m) => [m.name, m.role])),
            });
          }
        } catch {
          /* etcd may be unreachable on purpose */
        }
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
    return {
      samples,
      async stop() {
        stopped = true;
        await loop;
        return samples;
      },
    };
  }

  /** Stop everything this cluster started (by pid, through `ballast down`) and remove its dir. */
  async stop(): Promise<void> {
    try {
      // Frozen processes cannot shut down: thaw everything we may have stopped.
      for (const m of this.info.members) this.freezeHost(m.name, 'SIGCONT');
      this.freezeEtcd('SIGCONT');
    } catch {
      /* best effort */
    }
    await this.store.close().catch(() => undefined);
    await ballast(['down', '--dir', this.dir]);
    if (this.ownsDir && !process.env.KEEP_TMP) await rm(this.dir, { recursive: true, force: true });
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** Direct children of a pid, from /proc (no names involved). */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(e));
    } catch {
      /* exited */
    }
  }
  return out;
}


/** One sample of the view taken by TestCluster.watchView (at: performance.now()). */
export interface ViewSample {
  at: number;
  generation: number;
  primary: string | null;
  syncStandbys: string[];
  syncConfirmed: string[];
  roles: Record<string, string>;
}
