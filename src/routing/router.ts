// The router: one per client-side host. Owns one HAProxy and N PgBouncer processes and keeps
// them in step with the cluster.
//
// Modes: starting (render files, start or adopt HAProxy + poolers) -> running -> stopping
// (SIGTERM: stop HAProxy and the poolers by verified pid, delete the status key) -> stopped.
// While running, two loops:
// - follow loop (every pollMs, 100 ms): restart a dead HAProxy or pooler process (verified
//   pids, never names), read the cluster from etcd, and when decideRouterPush says the target
//   changed (view primary, its promotion, a restarted HAProxy) push it through the runtime API
//   at once. Health checks stay the safety net; an etcd outage leaves routing to them.
//   Then the switchover pause (decideRouterPause): PAUSE the transaction-pooled rw databases on
//   every pooler process when the view's switchover enters 'pausing' (in the background; the
//   outcome is published at once), RESUME once HAProxy routes rw to the promoted member, at once
//   on abort, or after holding it switchoverTimeoutMs; a starting router resumes leftovers.
// - publish loop (every publishMs, and right after a push): RouterStatus under a lease at
//   /ballast/<cluster>/routers/<id>: backends, pools, pids, last push, restarts.
// The processes are detached: a crashed router leaves clients served; its successor adopts
// them (pid files verified against /proc/<pid>/cmdline).
import { BallastError, errorMessage } from '../domain/errors.js';
import { loadJsonFile, poolerAdminPasswordOf, secretsSchema, APP_USER } from '../domain/config.js';
import { createLogger, type Logger } from '../domain/log.js';
import type { PoolerProcessStatus, RouterPush, RouterStatus } from '../domain/router-status.js';
import { DEFAULT_TIMING, type ClusterView, type RouterPause } from '../domain/types.js';
import { createEtcdStore } from '../store/etcd-store.js';
import type { RouterSession, Store } from '../store/store.js';
import { HaproxyAdmin } from './haproxy-admin.js';
import { PgbouncerAdmin, pauseAll, resumeAll } from './pgbouncer-admin.js';
import { routingPids, startHaproxy, startPooler, startRouting, stopRouting, type RoutingLayout, type RoutingPids } from './processes.js';
import { addPools, decideRouterPause, decideRouterPush, describeBackends, emptyPools, summarizePools, type PushedState } from './router-decide.js';
import type { RouterConfig } from './router-config.js';
import { POOLER_ADMIN_USER } from './routing-types.js';

export interface RouterHandle {
  stop(): Promise<void>;
  /** Settles when both loops end (only after stop()). */
  done: Promise<void>;
}

const RESTART_BACKOFF_MS = 1000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

class Router {
  private stopping = false;
  private pushed: PushedState | null = null;
  private lastPush: RouterPush | null = null;
  private lastError: string | null = null;
  private activity = 'starting';
  private readonly restarts = { haproxy: 0, poolers: 0 };
  private nextStartAt = 0;
  private pids: RoutingPids;
  private session: RouterSession | null = null;
  private seq = 0;
  private wakePublish: (() => void) | null = null;
  private readonly haproxy: HaproxyAdmin;
  private readonly poolers: PgbouncerAdmin[];
  private pause: RouterPause | null = null;
  private pauseTask: Promise<void> | null = null;
  /** Resume once at start: a predecessor may have died holding a pause. */
  private startupResumeDone = false;

  constructor(
    private readonly config: RouterConfig,
    private readonly layout: RoutingLayout,
    private readonly store: Store,
    adminPassword: string,
    private readonly log: Logger,
  ) {
    this.haproxy = new HaproxyAdmin(layout.haproxySocket, { timeoutMs: 1000 });
    this.poolers = layout.poolers.map(
      (p) => new PgbouncerAdmin({ host: p.dir, port: layout.poolerPort, user: POOLER_ADMIN_USER, password: adminPassword }, 1000),
    );
    this.pids = { haproxy: null, poolers: layout.poolers.map(() => null) };
  }

  run(): Promise<void> {
    return Promise.all([this.followLoop(), this.publishLoop()]).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wakePublish?.();
  }

  private async followLoop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.followOnce();
      } catch (e) {
        this.fail('while following the cluster', e);
      }
      await sleep(this.config.pollMs);
    }
  }

  private fail(what: string, e: unknown): void {
    const msg = `${what}: ${errorMessage(e)}`;
    if (msg !== this.lastError) this.log.warn({ err: errorMessage(e) }, what);
    this.lastError = msg;
  }

  /** Restart dead routing processes (with a back-off after a failed start). */
  private async ensureProcesses(): Promise<void> {
    this.pids = await routingPids(this.layout);
    if (Date.now() < this.nextStartAt || this.stopping) return;
    const opts = { osUser: this.config.osUser, timeoutMs: 5000 };
    try {
      if (this.pids.haproxy === null) {
        this.log.warn('HAProxy is not running: restarting it');
        this.pids.haproxy = await startHaproxy(this.layout, opts);
        this.restarts.haproxy += 1;
        this.log.info({ haproxyPid: this.pids.haproxy }, 'HAProxy restarted');
      }
      for (const p of this.layout.poolers) {
        if (this.pids.poolers[p.index] !== null || this.stopping) continue;
        this.log.warn({ index: p.index }, 'pooler process is not running: restarting it');
        this.pids.poolers[p.index] = await startPooler(this.layout, p.index, opts);
        this.restarts.poolers += 1;
        this.log.info({ index: p.index, poolerPid: this.pids.poolers[p.index] }, 'pooler process restarted');
      }
    } catch (e) {
      this.nextStartAt = Date.now() + RESTART_BACKOFF_MS;
      this.fail('while restarting a routing process', e);
    }
  }

  private async followOnce(): Promise<void> {
    await this.ensureProcesses();
    if (this.stopping) return;
    let snap;
    try {
      snap = await this.store.readCluster(this.config.cluster);
    } catch (e) {
      this.activity = 'etcd unreachable: HAProxy health checks route alone';
      this.fail('while reading the cluster', e);
      return;
    }
    await this.pushView(snap.view, snap.members);
    const timing = snap.spec?.timing ?? DEFAULT_TIMING;
    await this.followPause(snap.view, timing.switchoverTimeoutMs);
  }

  /** Read-write databases in transaction pooling: the ones a switchover pauses. */
  private pausedDatabases(): string[] {
    return this.config.routing.databases.filter((d) => d.poolMode === 'transaction').map((d) => d.name);
  }

  private async followPause(view: ClusterView | null, maxPausedMs: number): Promise<void> {
    const a = decideRouterPause(view, this.pause, this.pushed, Date.now(), maxPausedMs);
    if (a.kind === 'pause') {
      this.startPause(a.switchoverId, a.why);
    } else if (a.kind === 'resume') {
      await this.resume(a.why);
    } else if (!this.startupResumeDone && this.pause === null) {
      await Promise.all(this.pausedDatabases().map((db) => resumeAll(this.poolers, db)));
    }
    this.startupResumeDone = true;
  }

  /** PAUSE every pooler process's rw transaction pools in the background; report when done. */
  private startPause(switchoverId: string, why: string): void {
    const since = Date.now();
    this.pause = { switchoverId, state: 'pausing', since, error: null };
    this.log.info({ switchoverId }, why);
    this.wakePublish?.();
    const dbs = this.pausedDatabases();
    this.pauseTask = (async () => {
      try {
        await Promise.all(dbs.map((db) => pauseAll(this.poolers, this.config.routing.pauseTimeoutMs, db)));
        if (this.pause?.switchoverId === switchoverId && this.pause.state === 'pausing') {
          this.pause = { ...this.pause, state: 'paused' };
          this.log.info({ switchoverId, ms: Date.now() - since }, 'read-write pools paused');
        }
      } catch (e) {
        // pauseAll resumed its own database; resume the others that may have paused.
        await Promise.all(dbs.map((db) => resumeAll(this.poolers, db).catch(() => undefined)));
        if (this.pause?.switchoverId === switchoverId) this.pause = { ...this.pause, state: 'failed', error: errorMessage(e) };
        this.log.warn({ switchoverId, err: errorMessage(e) }, 'could not pause the read-write pools; resumed');
      }
      this.wakePublish?.();
    })();
  }

  private async resume(why: string): Promise<void> {
    await this.pauseTask?.catch(() => undefined);
    if (this.pause?.state !== 'failed') await Promise.all(this.pausedDatabases().map((db) => resumeAll(this.poolers, db)));
    this.log.info({ switchoverId: this.pause?.switchoverId, heldMs: this.pause ? Date.now() - this.pause.since : 0 }, `read-write pools resumed: ${why}`);
    this.pause = null;
    this.pauseTask = null;
    this.wakePublish?.();
  }

  private async pushView(view: ClusterView | null, members: Parameters<typeof decideRouterPush>[1]): Promise<void> {
    const d = decideRouterPush(view, members, this.pushed, this.pids.haproxy);
    if (!d.push) {
      this.activity = d.reason;
      return;
    }
    const haproxyPid = this.pids.haproxy as number;
    try {
      const plan = await this.haproxy.follow(d.target, this.config.members);
      this.pushed = { primary: d.target.primary, primaryReady: d.target.primaryReady, haproxyPid };
      this.lastPush = { at: Date.now(), primary: d.target.primary, primaryReady: d.target.primaryReady, reason: `${d.reason}: ${plan.reason}`, commands: plan.commands };
      this.activity = `pushed: ${this.lastPush.reason}`;
      this.lastError = null;
      this.log.info({ commands: plan.commands }, `pushed to HAProxy: ${this.lastPush.reason}`);
      this.wakePublish?.();
    } catch (e) {
      this.pushed = null; // push again on the next pass
      this.fail('while pushing the view to HAProxy', e);
    }
  }

  private async publishLoop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.publishOnce();
      } catch (e) {
        this.fail('while publishing the router status', e);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.config.publishMs);
        this.wakePublish = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wakePublish = null;
    }
  }

  private async poolerStatus(index: number): Promise<PoolerProcessStatus> {
    const pid = this.pids.poolers[index] ?? null;
    const admin = this.poolers[index];
    if (pid === null || admin === undefined) return { index, pid, ...emptyPools(), error: 'not running' };
    try {
      return { index, pid, ...summarizePools(await admin.showPools()), error: null };
    } catch (e) {
      return { index, pid, ...emptyPools(), error: errorMessage(e) };
    }
  }

  private async collect(): Promise<RouterStatus> {
    const backends = this.pids.haproxy === null ? [] : describeBackends(await this.haproxy.showServersState().catch(() => []));
    const poolers = await Promise.all(this.layout.poolers.map((p) => this.poolerStatus(p.index)));
    const spec = this.config.routing;
    return {
      id: this.config.id,
      cluster: this.config.cluster,
      pid: process.pid,
      at: Date.now(),
      seq: ++this.seq,
      listen: { address: spec.listenAddress, rwPort: spec.rwPort, roPort: spec.roPort, poolerPort: spec.poolerPort },
      haproxy: { pid: this.pids.haproxy, backends },
      poolers,
      pools: poolers.reduce((a, p) => addPools(a, p), emptyPools()),
      lastPush: this.lastPush,
      restarts: { ...this.restarts },
      activity: this.activity,
      lastError: this.lastError,
      pause: this.pause,
    };
  }

  private async publishOnce(): Promise<void> {
    const status = await this.collect();
    this.session ??= await this.store.openRouterSession(this.config.cluster, this.config.id, this.config.leaseTtlSec);
    await this.session.publish(status);
  }

  /** Delete the status key (best effort). */
  async closeSession(): Promise<void> {
    await this.session?.close().catch(() => undefined);
  }
}

/** Start (or adopt) HAProxy and the poolers, then run the loops until stop(). */
export async function startRouter(config: RouterConfig, log: Logger = createLogger('router', { router: config.id, cluster: config.cluster })): Promise<RouterHandle> {
  const secrets = loadJsonFile(secretsSchema, config.secretsFile, 'secrets file');
  const adminPassword = poolerAdminPasswordOf(secrets);
  const layout = await startRouting(
    {
      spec: config.routing,
      members: config.members,
      runDir: config.runDir,
      osUser: config.osUser,
      credentials: { users: [{ user: APP_USER, password: secrets.appPassword }], admin: { user: POOLER_ADMIN_USER, password: adminPassword } },
    },
    { timeoutMs: 15_000 },
  ).catch((e: unknown) => {
    throw new BallastError('COMMAND_FAILED', `while starting HAProxy and PgBouncer in ${config.runDir}: ${errorMessage(e)}`, { cause: e });
  });
  const store = createEtcdStore(config.etcd, { callTimeoutMs: 1000 });
  const router = new Router(config, layout, store, adminPassword, log);
  const pids = await routingPids(layout);
  log.info({ haproxy: pids.haproxy, poolers: pids.poolers, ports: { rw: config.routing.rwPort, ro: config.routing.roPort, pooler: config.routing.poolerPort } }, 'router started');
  const done = router.run();
  let stopping: Promise<void> | null = null;
  return {
    done,
    stop: () => {
      stopping ??= (async () => {
        await router.stop();
        await done;
        await stopRouting(layout);
        const left = await routingPids(layout);
        if (left.haproxy !== null || left.poolers.some((p) => p !== null)) log.error({ left }, 'routing processes still alive after stop');
        else log.info('router stopped: HAProxy and poolers stopped');
        await router.closeSession();
        await store.close().catch(() => undefined);
      })();
      return stopping;
    },
  };
}
