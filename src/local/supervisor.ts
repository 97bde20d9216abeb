// The local supervisor: runs etcd, the agents, the coordinators and the router of one deployment as
// child processes, restarts any that dies (after BALLAST_RESTART_DELAY_MS, default 3000, like
// systemd's Restart=always), keeps DIR/state.json current with every pid, and on stop()
// shuts everything down in order (see stop.ts).
// Modes: starting -> running (restarting children as needed) -> stopping -> stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InvalidInputError, TimeoutError, errorMessage } from '../domain/errors.js';
import { defaultSpec } from '../domain/types.js';
import { createEtcdStore } from '../store/etcd-store.js';
import { ETCD_NAME, LOOPBACK, etcdEndpoint, layoutOf, type Layout } from './layout.js';
import { isRefAlive, procRefOf, sleep, type ProcRef } from './proc.js';
import { readState, writeState, type DeploymentState } from './state.js';
import { stopDeploymentProcesses, type StopReport } from './stop.js';

export const BALLAST_BIN = fileURLToPath(new URL('../../../bin/ballast.js', import.meta.url));
const ETCD_BIN = process.env.BALLAST_ETCD_BIN ?? '/usr/bin/etcd';

type Kind = 'etcd' | 'agent' | 'coordinator' | 'router';

interface Managed {
  kind: Kind;
  name: string;
  argv: string[];
  logPath: string;
  child: ChildProcess | null;
  timer: NodeJS.Timeout | null;
}

export interface SupervisorOptions {
  log: (line: string) => void;
  restartDelayMs?: number;
}

export function restartDelayFromEnv(): number {
  const v = Number(process.env.BALLAST_RESTART_DELAY_MS);
  return Number.isFinite(v) && v >= 0 ? v : 3000;
}

export function etcdArgs(state: DeploymentState, layout: Layout): string[] {
  const client = etcdEndpoint(state.etcd.clientPort);
  const peer = `http://${LOOPBACK}:${state.etcd.peerPort}`;
  return [
    `--name=${ETCD_NAME}`,
    `--data-dir=${layout.etcdData}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${ETCD_NAME}=${peer}`,
    '--initial-cluster-state=new',
    `--initial-cluster-token=ballast-${state.cluster}`,
    '--heartbeat-interval=100',
    '--election-timeout=1000',
    '--logger=zap',
    '--log-outputs=stderr',
  ];
}

async function etcdHealthy(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

export class Supervisor {
  private readonly children: Managed[] = [];
  private stopping: Promise<StopReport> | null = null;
  private readonly restartDelayMs: number;

  private constructor(
    private readonly state: DeploymentState,
    private readonly layout: Layout,
    private readonly opts: SupervisorOptions,
  ) {
    this.restartDelayMs = opts.restartDelayMs ?? restartDelayFromEnv();
  }

  /** Claim DIR: refuses if another live supervisor owns it; records our pid. */
  static open(dir: string, opts: SupervisorOptions): Supervisor {
    const layout = layoutOf(dir);
    const state = readState(layout.state);
    if (!state) throw new InvalidInputError(`${dir} holds no ballast deployment (no state.json); run "ballast up --dir ${dir}"`);
    if (state.supervisor && state.supervisor.pid !== process.pid && isRefAlive(state.supervisor)) {
      throw new InvalidInputError(`a supervisor (pid ${state.supervisor.pid}) already runs the cluster in ${dir}`);
    }
    const self = procRefOf(process.pid);
    state.supervisor = self;
    writeState(layout.state, state);
    return new Supervisor(state, layout, opts);
  }

  get isStopping(): boolean {
    return this.stopping !== null;
  }

  /** etcd, then the spec, then agents and coordinators. Throws if etcd never comes up. */
  async start(): Promise<void> {
    const etcd = this.manage('etcd', 'etcd', [ETCD_BIN, ...etcdArgs(this.state, this.layout)]);
    this.spawnChild(etcd);
    const endpoint = etcdEndpoint(this.state.etcd.clientPort);
    await this.until(() => etcdHealthy(endpoint), 30000, () => `etcd at ${endpoint} did not become healthy in 30 s (see ${this.layout.log('etcd')})`);
    await this.writeSpec(endpoint);
    for (const m of this.state.members) {
      this.spawnChild(this.manage('agent', m.name, [process.execPath, BALLAST_BIN, 'agent', '--config', this.layout.agentConfig(m.name)]));
    }
    for (const c of this.state.coordinators) {
      this.spawnChild(
        this.manage('coordinator', c.id, [process.execPath, BALLAST_BIN, 'coordinator', '--config', this.layout.coordinatorConfig(c.id)]),
      );
    }
    // The router needs only etcd; it owns HAProxy and the PgBouncer processes.
    for (const r of this.state.routers ?? []) {
      this.spawnChild(this.manage('router', r.id, [process.execPath, BALLAST_BIN, 'router', '--config', this.layout.routerConfig(r.id)]));
    }
    const routers = this.state.routers?.length ?? 0;
    this.opts.log(`supervisor: started etcd, ${this.state.members.length} agents, ${this.state.coordinators.length} coordinators, ${routers} router${routers === 1 ? '' : 's'}`);
  }

  /** Stop everything (idempotent); resolves once all is down and the state is cleared. */
  stop(): Promise<StopReport> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<StopReport> {
    for (const m of this.children) if (m.timer) clearTimeout(m.timer);
    this.opts.log('supervisor: stopping');
    const report = await stopDeploymentProcesses(this.state, this.layout, (l) => this.opts.log(`supervisor: ${l}`));
    this.state.etcd.proc = null;
    for (const m of this.state.members) m.proc = null;
    for (const c of this.state.coordinators) c.proc = null;
    for (const r of this.state.routers ?? []) r.proc = null;
    this.state.supervisor = null;
    writeState(this.layout.state, this.state);
    this.opts.log(report.failed.length ? `supervisor: stopped; still alive: ${report.failed.join(', ')}` : 'supervisor: stopped');
    return report;
  }

  private async until(check: () => Promise<boolean>, timeoutMs: number, message: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (this.stopping) throw new InvalidInputError('stopped while starting');
      if (Date.now() > deadline) throw new TimeoutError(message());
      await sleep(200);
    }
  }

  private async writeSpec(endpoint: string): Promise<void> {
    let lastError = '';
    await this.until(
      async () => {
        const store = createEtcdStore([endpoint], { callTimeoutMs: 3000 });
        try {
          await store.ensureSpec(this.state.cluster, defaultSpec(this.state.cluster));
          return true;
        } catch (e) {
          lastError = errorMessage(e);
          return false;
        } finally {
          await store.close().catch(() => undefined);
        }
      },
      30000,
      () => `could not write the cluster spec to etcd: ${lastError}`,
    );
  }

  private manage(kind: Kind, name: string, argv: string[]): Managed {
    const m: Managed = { kind, name, argv, logPath: this.layout.log(name), child: null, timer: null };
    this.children.push(m);
    return m;
  }

  private record(m: Managed, ref: ProcRef | null): void {
    if (m.kind === 'etcd') this.state.etcd.proc = ref;
    else if (m.kind === 'agent') {
      const e = this.state.members.find((x) => x.name === m.name);
      if (e) e.proc = ref;
    } else if (m.kind === 'router') {
      const e = this.state.routers?.find((x) => x.id === m.name);
      if (e) e.proc = ref;
    } else {
      const e = this.state.coordinators.find((x) => x.id === m.name);
      if (e) e.proc = ref;
    }
    writeState(this.layout.state, this.state);
  }

  private spawnChild(m: Managed): void {
    m.timer = null;
    if (this.stopping) return;
    const fd = openSync(m.logPath, 'a', 0o640);
    let child: ChildProcess;
    try {
      const [cmd, ...args] = m.argv;
      // Own process group: a Ctrl-C on the terminal reaches only the supervisor, which then
      // stops the children in order.
      child = spawn(cmd ?? '', args, { detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    m.child = child;
    let exited = false;
    const onGone = (why: string) => {
      if (exited) return;
      exited = true;
      m.child = null;
      if (this.stopping) return;
      this.record(m, null);
      this.opts.log(`supervisor: ${m.kind} ${m.name} ${why}; restarting in ${this.restartDelayMs} ms`);
      m.timer = setTimeout(() => this.spawnChild(m), this.restartDelayMs);
    };
    child.once('error', (e) => onGone(`failed to start: ${e.message}`));
    child.once('exit', (code, signal) => onGone(`exited (${signal ? `signal ${signal}` : `code ${code}`})`));
    if (child.pid !== undefined) this.record(m, procRefOf(child.pid));
  }
}
