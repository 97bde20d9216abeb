// A multi-host Ballast deployment inside the chaos network: three etcd members (e1..e3), three
// Postgres hosts (p1..p3: agent of pg1..pg3 + coordinator co1..co3), a router host (rt:
// `ballast router`, which runs HAProxy + PgBouncer), a client host (cl: workload, observer) and a
// backup host (bk: the pgBackRest repository behind `pgbackrest server`, TLS; each Postgres host
// runs a `pgbackrest server` too: see backup-check.ts).
// Every process is `ip netns exec <host ns> ...`, started and tracked here by pid (recorded in
// the run state before anything else can happen); postgres, HAProxy and PgBouncer are started
// by the agents and the router, found through their verified pid files.
// Each Postgres host's member directory is a size-limited tmpfs (so "disk full" is real).
//
//   DIR/secrets.json (0600)  DIR/worker.json (0600, no secrets: a path to secrets.json)
//   DIR/hosts/<host>/...     configs, etcd data, member dir (tmpfs), router run dir
//   DIR/logs/<proc>.log      output of every process started here
import { chownSync, closeSync, copyFileSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfig, CoordinatorConfig } from '../domain/config.js';
import { errorMessage } from '../domain/errors.js';
import { lookupOsUser, type OsUser } from '../local/os-user.js';
import { generateSecrets } from '../local/prepare.js';
import { isRefAlive, postmasterOf, procRefOf, signalRef, stopRef, type ProcRef } from '../local/proc.js';
import { writeFileAtomic } from '../local/state.js';
import { BALLAST_BIN } from '../local/supervisor.js';
import { routingLayout, routingPids, stopRouting, type RoutingLayout } from '../routing/processes.js';
import type { RouterConfigInput } from '../routing/router-config.js';
import { childrenOf } from '../testkit/cluster.js';
import { createNetwork, planNetwork, run, spawnInNamespace, type NetHost, type Network } from './netns.js';
import { backupLayoutOf, chaosBackupConfig, prepareBackupHosts, serverArgv, type ChaosBackupLayout } from './backup-check.js';
import type { RunRecord } from './run-state.js';

export const CLUSTER = 'main';
export const ETCD_HOSTS = ['e1', 'e2', 'e3'] as const;
export const PG_HOSTS = ['p1', 'p2', 'p3'] as const;
export const ROUTER_HOST = 'rt';
export const CLIENT_HOST = 'cl';
export const BACKUP_HOST = 'bk';
export const ALL_HOSTS = [...ETCD_HOSTS, ...PG_HOSTS, ROUTER_HOST, CLIENT_HOST, BACKUP_HOST];
/** The backup host's pgBackRest TLS server (a fault stops it: backup-repo-down). */
export const BACKUP_SERVER_KEY = `pgbackrest-server ${BACKUP_HOST}`;
export const PG_PORT = 5432;
export const API_PORT = 8008;
export const ROUTING_PORTS = { rwPort: 5000, roPort: 5001, poolerPort: 6432 };
/** Size of each member's tmpfs (data directory + pg_wal + a rejoin's clone). */
export const MEMBER_FS_MB = 1024;
const ETCD_BIN = process.env.BALLAST_ETCD_BIN ?? '/usr/bin/etcd';
const OS_USER = 'postgres';

export function memberOfHost(host: string): string {
  return `pg${host.slice(1)}`;
}
export function hostOfMember(member: string): string {
  return `p${member.slice(2)}`;
}
export function coordinatorOfHost(host: string): string {
  return `co${host.slice(1)}`;
}

/** Settings the chaos workers read (no secrets: the secrets file path). */
export interface WorkerConfig {
  cluster: string;
  etcd: string[];
  rw: { host: string; port: number };
  members: { name: string; host: string; port: number }[];
  secretsFile: string;
  dir: string;
}

type ProcKind = 'etcd' | 'agent' | 'coordinator' | 'router' | 'worker' | 'pgbackrest';

interface ProcSpec {
  key: string;
  kind: ProcKind;
  host: string;
  argv: string[];
}

/** A process that exited without the harness asking it to (restarted like systemd would). */
export interface UnexpectedExit {
  key: string;
  pid: number;
  at: number;
  /** Last lines of its log (the crash). */
  logTail: string;
}

/** Kinds a host's service manager would restart (Restart=always), after this delay. */
const SUPERVISED: ProcKind[] = ['etcd', 'agent', 'coordinator', 'router', 'pgbackrest'];
const RESTART_DELAY_MS = 3000;

export class Deployment {
  readonly net: Network;
  readonly secretsFile: string;
  private readonly specs = new Map<string, ProcSpec>();
  private readonly user: OsUser;
  /** Processes a fault keeps down on purpose (not restarted until released). */
  private readonly held = new Set<string>();
  private superviseTimer: NodeJS.Timeout | null = null;
  private readonly deadSince = new Map<string, number>();
  readonly unexpectedExits: UnexpectedExit[] = [];
  /** The backup host's pgBackRest repository every member archives into (DIR/backup), over TLS. */
  readonly backup: ChaosBackupLayout;

  constructor(readonly dir: string, readonly record: RunRecord, private readonly log: (l: string) => void) {
    this.net = planNetwork(record.state.runId, ALL_HOSTS);
    this.secretsFile = join(dir, 'secrets.json');
    this.user = lookupOsUser(OS_USER);
    const bk = this.host(BACKUP_HOST);
    this.backup = backupLayoutOf(dir, this.secretsFile, CLUSTER, { name: bk.name, ip: bk.ip, ns: bk.ns }, PG_HOSTS.map((h) => {
      const m = memberOfHost(h);
      return { name: m, host: h, ip: this.host(h).ip, dataDir: this.memberData(m), runDir: this.memberDir(m), port: PG_PORT, hostDir: this.hostDir(h) };
    }));
  }

  host(name: string): NetHost {
    const h = this.net.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`unknown host ${name}`);
    return h;
  }

  get etcdEndpoints(): string[] {
    return ETCD_HOSTS.map((h) => `http://${this.host(h).ip}:2379`);
  }

  hostDir(h: string): string {
    return join(this.dir, 'hosts', h);
  }
  memberDir(member: string): string {
    return join(this.hostDir(hostOfMember(member)), 'member');
  }
  memberData(member: string): string {
    return join(this.memberDir(member), 'data');
  }
  logPath(key: string): string {
    return join(this.dir, 'logs', `${key.replace(/\s+/g, '-')}.log`);
  }
  get routerLayout(): RoutingLayout {
    return routingLayout(join(this.hostDir(ROUTER_HOST), 'router'), { poolerProcesses: 1, poolerPort: ROUTING_PORTS.poolerPort });
  }

  workerConfig(): WorkerConfig {
    return {
      cluster: CLUSTER,
      etcd: this.etcdEndpoints,
      rw: { host: this.host(ROUTER_HOST).ip, port: ROUTING_PORTS.poolerPort },
      members: PG_HOSTS.map((h) => ({ name: memberOfHost(h), host: this.host(h).ip, port: PG_PORT })),
      secretsFile: this.secretsFile,
      dir: this.dir,
    };
  }

  /** Network, files, tmpfs mounts, then etcd. Agents etc. come with startCluster(). */
  async create(): Promise<void> {
    mkdirSync(join(this.dir, 'logs'), { recursive: true, mode: 0o755 });
    writeFileSync(this.secretsFile, `${JSON.stringify(generateSecrets(), null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    writeFileAtomic(join(this.dir, 'worker.json'), `${JSON.stringify(this.workerConfig(), null, 2)}\n`, 0o600);
    await createNetwork(this.net, this.record);
    this.log(`network: ${this.net.hosts.map((h) => `${h.name}=${h.ip}`).join(' ')} (namespaces ${this.net.switchNs.replace(/sw$/, '*')})`);
    for (const h of ALL_HOSTS) mkdirSync(this.hostDir(h), { recursive: true, mode: 0o755 });
    for (const h of PG_HOSTS) await this.mountMemberFs(h);
    await prepareBackupHosts(this.backup);
    this.writeConfigs();
    for (const h of ETCD_HOSTS) this.start(`etcd ${h}`);
    for (const key of this.keys('pgbackrest')) this.start(key);
  }

  private async mountMemberFs(h: string): Promise<void> {
    const path = join(this.hostDir(h), 'member');
    mkdirSync(path, { recursive: true, mode: 0o700 });
    this.record.addMount(path);
    await run('/usr/bin/mount', ['-t', 'tmpfs', '-o', `size=${MEMBER_FS_MB}m,mode=0700,uid=${this.user.uid},gid=${this.user.gid}`, `ballast-chaos-${this.record.state.runId}`, path]);
  }

  private writeConfigs(): void {
    const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
    const etcd = this.etcdEndpoints;
    const members = PG_HOSTS.map((h) => ({ name: memberOfHost(h), host: this.host(h).ip, port: PG_PORT, apiHost: this.host(h).ip, apiPort: API_PORT }));
    for (const h of PG_HOSTS) {
      const m = memberOfHost(h);
      const cfg: AgentConfig = {
        cluster: CLUSTER, name: m, host: this.host(h).ip, port: PG_PORT, apiHost: this.host(h).ip, apiPort: API_PORT,
        dataDir: this.memberData(m), runDir: this.memberDir(m), pgBinDir: '/usr/lib/postgresql/15/bin', etcd,
        secretsFile: this.secretsFile, osUser: OS_USER,
        // Keep pg_wal well inside the member's tmpfs.
        pgParameters: { max_wal_size: '256MB', wal_keep_size: '64MB', max_slot_wal_keep_size: '512MB' },
        backup: chaosBackupConfig(this.backup, this.backup.members.find((x) => x.name === m)!),
      };
      writeFileAtomic(join(this.hostDir(h), 'agent.json'), json(cfg), 0o644);
      const co: CoordinatorConfig = { cluster: CLUSTER, id: coordinatorOfHost(h), etcd };
      writeFileAtomic(join(this.hostDir(h), 'coordinator.json'), json(co), 0o644);
      this.define({ key: `agent ${m}`, kind: 'agent', host: h, argv: [process.execPath, BALLAST_BIN, 'agent', '--config', join(this.hostDir(h), 'agent.json')] });
      this.define({ key: `coordinator ${coordinatorOfHost(h)}`, kind: 'coordinator', host: h, argv: [process.execPath, BALLAST_BIN, 'coordinator', '--config', join(this.hostDir(h), 'coordinator.json')] });
    }
    const routerRun = this.routerLayout.runDir;
    mkdirSync(routerRun, { recursive: true, mode: 0o700 });
    chownSync(routerRun, this.user.uid, this.user.gid);
    const router: RouterConfigInput = {
      cluster: CLUSTER, id: 'rt1', etcd, runDir: routerRun, secretsFile: this.secretsFile, osUser: OS_USER, members,
      routing: { listenAddress: this.host(ROUTER_HOST).ip, ...ROUTING_PORTS, poolerProcesses: 1 },
    };
    writeFileAtomic(join(this.hostDir(ROUTER_HOST), 'router.json'), json(router), 0o644);
    this.define({ key: 'router rt1', kind: 'router', host: ROUTER_HOST, argv: [process.execPath, BALLAST_BIN, 'router', '--config', join(this.hostDir(ROUTER_HOST), 'router.json')] });
    const cluster = ETCD_HOSTS.map((h) => `${h}=http://${this.host(h).ip}:2380`).join(',');
    for (const h of ETCD_HOSTS) {
      const ipa = this.host(h).ip;
      const data = join(this.hostDir(h), 'etcd');
      mkdirSync(data, { recursive: true, mode: 0o700 });
      this.define({
        key: `etcd ${h}`, kind: 'etcd', host: h,
        argv: [ETCD_BIN, `--name=${h}`, `--data-dir=${data}`, `--listen-client-urls=http://${ipa}:2379`, `--advertise-client-urls=http://${ipa}:2379`,
          `--listen-peer-urls=http://${ipa}:2380`, `--initial-advertise-peer-urls=http://${ipa}:2380`, `--initial-cluster=${cluster}`,
          '--initial-cluster-state=new', `--initial-cluster-token=ballast-chaos-${this.record.state.runId}`,
          '--heartbeat-interval=100', '--election-timeout=1000', '--logger=zap', '--log-outputs=stderr', '--log-level=warn'],
      });
    }
    this.define({ key: BACKUP_SERVER_KEY, kind: 'pgbackrest', host: BACKUP_HOST, argv: serverArgv(this.backup, null) });
    for (const m of this.backup.members) this.define({ key: `pgbackrest-server ${m.host}`, kind: 'pgbackrest', host: m.host, argv: serverArgv(this.backup, m) });
    const workerArgv = (role: string, extra: string[] = []) => [process.execPath, BALLAST_BIN, 'chaos', 'worker', role, '--config', join(this.dir, 'worker.json'), ...extra];
    this.define({ key: 'worker observer', kind: 'worker', host: CLIENT_HOST, argv: workerArgv('observer') });
    this.define({ key: 'worker workload', kind: 'worker', host: CLIENT_HOST, argv: workerArgv('workload') });
    for (const h of PG_HOSTS) this.define({ key: `worker prober ${memberOfHost(h)}`, kind: 'worker', host: h, argv: workerArgv('prober', ['--member', memberOfHost(h)]) });
  }

  private define(spec: ProcSpec): void {
    this.specs.set(spec.key, spec);
  }

  /** Start the observer (writes the spec), agents, coordinators and the router; supervise them. */
  startCluster(): void {
    this.start('worker observer');
    for (const h of PG_HOSTS) this.start(`agent ${memberOfHost(h)}`);
    for (const h of PG_HOSTS) this.start(`coordinator ${coordinatorOfHost(h)}`);
    this.start('router rt1');
    this.superviseTimer = setInterval(() => this.superviseTick(), 500);
  }

  /** Keep `key` down (a fault killed it); released by release(). */
  hold(key: string): void {
    this.held.add(key);
  }

  /** Let `key` run again: started now if it is not running. */
  release(key: string): void {
    this.held.delete(key);
    this.deadSince.delete(key);
    if (!this.ref(key)) this.start(key);
  }

  /**
   * What systemd would do on a real host: a supervised process that died on its own is
   * restarted after RESTART_DELAY_MS, and the exit is recorded (a finding for the report).
   */
  private superviseTick(): void {
    const now = Date.now();
    for (const spec of this.specs.values()) {
      if (!SUPERVISED.includes(spec.kind) || this.held.has(spec.key)) continue;
      const rec = this.record.state.procs[spec.key];
      if (!rec || isRefAlive(rec)) continue;
      const since = this.deadSince.get(spec.key);
      if (since === undefined) {
        this.deadSince.set(spec.key, now);
        let tail = '';
        try {
          tail = readFileSync(this.logPath(spec.key), 'utf8').split('\n').filter((l) => l.trim() !== '').slice(-12).join('\n');
        } catch {
          /* no log */
        }
        this.unexpectedExits.push({ key: spec.key, pid: rec.pid, at: now, logTail: tail.slice(-2000) });
        this.log(`${spec.key} (pid ${rec.pid}) exited on its own; restarting it in ${RESTART_DELAY_MS} ms`);
      } else if (now - since >= RESTART_DELAY_MS) {
        this.deadSince.delete(spec.key);
        try {
          this.start(spec.key);
        } catch (e) {
          this.log(`restarting ${spec.key} failed: ${errorMessage(e)}`);
        }
      }
    }
  }

  /** Release every process a fault still holds down. */
  releaseAll(): void {
    for (const key of [...this.held]) this.release(key);
  }

  stopSupervising(): void {
    if (this.superviseTimer) clearInterval(this.superviseTimer);
    this.superviseTimer = null;
  }

  /**
   * Stop the backup host's pgBackRest server and the children it forked for open connections
   * (SIGKILL, by pid), and keep it down until release(BACKUP_SERVER_KEY): connections to the
   * backup host are refused at once (unlike a cut link, where they hang until a timeout).
   */
  stopBackupServer(): void {
    this.hold(BACKUP_SERVER_KEY);
    const r = this.ref(BACKUP_SERVER_KEY);
    if (!r) return;
    const kids = childrenOf(r.pid);
    signalRef(r, 'SIGKILL');
    for (const pid of kids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  /** Start (or start again) the process `key` in its host's namespace. */
  start(key: string): ProcRef {
    const spec = this.specs.get(key);
    if (!spec) throw new Error(`unknown process ${key}`);
    const old = this.record.state.procs[key];
    if (old && isRefAlive(old)) throw new Error(`${key} already runs (pid ${old.pid})`);
    const fd = openSync(this.logPath(key), 'a', 0o640);
    let pid: number | undefined;
    try {
      const env: NodeJS.ProcessEnv = { HOME: '/root', LANG: 'C' };
      for (const [k, v] of Object.entries(process.env)) if (k.startsWith('BALLAST_') && v !== undefined) env[k] = v;
      const child = spawnInNamespace(this.host(spec.host).ns, spec.argv, fd, env);
      child.on('error', (e) => this.log(`${key}: ${e.message}`));
      child.unref();
      pid = child.pid;
    } finally {
      closeSync(fd);
    }
    const ref = pid === undefined ? null : procRefOf(pid);
    if (!ref) throw new Error(`${key} did not start`);
    this.record.setProc(key, ref);
    return ref;
  }

  ref(key: string): ProcRef | null {
    const r = this.record.state.procs[key];
    return r && isRefAlive(r) ? r : null;
  }

  keys(kind?: ProcKind): string[] {
    return [...this.specs.values()].filter((s) => kind === undefined || s.kind === kind).map((s) => s.key);
  }

  hostOfKey(key: string): string {
    const s = this.specs.get(key);
    if (!s) throw new Error(`unknown process ${key}`);
    return s.host;
  }

  signal(key: string, sig: NodeJS.Signals): boolean {
    const r = this.ref(key);
    return r ? signalRef(r, sig) : false;
  }

  postmaster(member: string): ProcRef | null {
    return postmasterOf(this.memberData(member));
  }

  /** A Postgres host's processes: its agent, the postmaster and its children. */
  hostPids(member: string): number[] {
    const agent = this.ref(`agent ${member}`)?.pid;
    const pm = this.postmaster(member)?.pid;
    return [agent, pm, ...(pm ? childrenOf(pm) : [])].filter((p): p is number => p !== undefined);
  }

  routingPids(): ReturnType<typeof routingPids> {
    return routingPids(this.routerLayout);
  }

  /** Stop what this run started, in order, by verified pid. Returns what could not be stopped. */
  async stopAll(): Promise<string[]> {
    this.stopSupervising();
    const failed: string[] = [];
    const policy = { signal: 'SIGTERM' as const, graceMs: 8000, escalate: 'SIGKILL' as const, escalateGraceMs: 3000 };
    // Thaw anything a fault froze.
    for (const key of Object.keys(this.record.state.procs)) this.signal(key, 'SIGCONT');
    for (const h of PG_HOSTS) for (const pid of this.hostPids(memberOfHost(h))) try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
    const stopKeys = async (keys: string[]) => {
      await Promise.all(keys.map(async (key) => {
        const r = this.ref(key);
        if (r && !(await stopRef(r, policy, this.log, key))) failed.push(`${key} (pid ${r.pid})`);
        if (!this.ref(key)) this.record.setProc(key, null);
      }));
    };
    await stopKeys(this.keys('worker').filter((k) => k !== 'worker workload'));
    await stopKeys(this.keys('coordinator'));
    await stopKeys(this.keys('router'));
    await stopRouting(this.routerLayout).catch((e: unknown) => failed.push(`routing: ${errorMessage(e)}`));
    await stopKeys(this.keys('agent'));
    await Promise.all(PG_HOSTS.map(async (h) => {
      const pm = this.postmaster(memberOfHost(h));
      if (pm && !(await stopRef(pm, { signal: 'SIGINT', graceMs: 20000, escalate: 'SIGQUIT', escalateGraceMs: 10000 }, this.log, `postgres ${memberOfHost(h)}`))) failed.push(`postgres ${memberOfHost(h)}`);
    }));
    // The members' files live on their tmpfs, gone at unmount: keep the postgres logs.
    for (const h of PG_HOSTS) {
      const m = memberOfHost(h);
      try {
        copyFileSync(join(this.memberDir(m), 'postgres.log'), this.logPath(`postgres ${m}`));
      } catch {
        /* no log (never started) */
      }
    }
    await stopKeys(this.keys('etcd'));
    await stopKeys(this.keys('pgbackrest'));
    await stopKeys(Object.keys(this.record.state.procs));
    return failed;
  }
}
