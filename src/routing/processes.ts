// Files and processes of the routing layer: one HAProxy and N PgBouncer processes, spawned
// detached (they outlive the caller, like postgres), tracked by pid files, signalled only by a
// pid whose /proc/<pid>/cmdline names our own config file (never by name).
//
// Layout of <runDir> (0700, owned by the OS user both run as; every file 0600):
//   haproxy.cfg  haproxy.sock (runtime API)  haproxy.pid (written by Ballast)  haproxy.log
//   pgbouncer-userlist.txt (auth_file, plaintext passwords)
//   pgbouncer-<i>/  pgbouncer.ini  pgbouncer.pid (PgBouncer's)  pgbouncer.log  stderr.log
//                   .s.PGSQL.<poolerPort> (that process's socket: its admin console)
//
// Both run as the unprivileged OS user (PgBouncer refuses root; HAProxy needs no privilege for
// ports above 1024). HAProxy runs in master-worker mode in the foreground (-W, no -D): the pid
// Ballast tracks is the master, which stays the same across a future hot reload (SIGUSR2 keeps
// the listening sockets), and which exits when its worker dies, so a supervisor notices. -db
// would be one process but a reload would then mean a restart that drops the listeners.
import { chmod, chown, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CommandFailedError, TimeoutError, errorMessage } from '../domain/errors.js';
import { resolveRunIdentity, runCommand, spawnDetached, tail, type OsIdentity } from '../agent/run-as.js';
import { HaproxyAdmin } from './haproxy-admin.js';
import { PgbouncerAdmin } from './pgbouncer-admin.js';
import { renderHaproxyConfig } from './render-haproxy.js';
import { renderPgbouncerIni, renderUserlist, type PoolerProcessPaths } from './render-pgbouncer.js';
import type { PoolerCredentials, RoutingMember, RoutingSpec } from './routing-types.js';

export const HAPROXY_BIN = process.env.BALLAST_HAPROXY_BIN ?? '/usr/sbin/haproxy';
export const PGBOUNCER_BIN = process.env.BALLAST_PGBOUNCER_BIN ?? '/usr/sbin/pgbouncer';

export interface PoolerLayout extends PoolerProcessPaths {
  index: number;
  config: string;
  stderrLog: string;
}

export interface RoutingLayout {
  runDir: string;
  poolerPort: number;
  haproxyConfig: string;
  haproxySocket: string;
  haproxyPidFile: string;
  haproxyLog: string;
  authFile: string;
  poolers: PoolerLayout[];
}

export function routingLayout(runDir: string, spec: Pick<RoutingSpec, 'poolerProcesses' | 'poolerPort'>): RoutingLayout {
  const authFile = join(runDir, 'pgbouncer-userlist.txt');
  const poolers = Array.from({ length: spec.poolerProcesses }, (_, index) => {
    const dir = join(runDir, `pgbouncer-${index}`);
    return {
      index, dir, authFile,
      config: join(dir, 'pgbouncer.ini'),
      pidFile: join(dir, 'pgbouncer.pid'),
      logFile: join(dir, 'pgbouncer.log'),
      stderrLog: join(dir, 'stderr.log'),
    };
  });
  return {
    runDir, poolerPort: spec.poolerPort, authFile, poolers,
    haproxyConfig: join(runDir, 'haproxy.cfg'),
    haproxySocket: join(runDir, 'haproxy.sock'),
    haproxyPidFile: join(runDir, 'haproxy.pid'),
    haproxyLog: join(runDir, 'haproxy.log'),
  };
}

export interface RoutingSetup {
  spec: RoutingSpec;
  members: RoutingMember[];
  credentials: PoolerCredentials;
  runDir: string;
  /** OS user HAProxy and PgBouncer run as when Ballast is root. Default 'postgres'. */
  osUser?: string;
}

function identityOf(setup: Pick<RoutingSetup, 'osUser'>): OsIdentity | null {
  return resolveRunIdentity(setup.osUser ?? 'postgres');
}

async function own(path: string, id: OsIdentity | null): Promise<void> {
  if (id) await chown(path, id.uid, id.gid);
}

async function ensureDir(path: string, id: OsIdentity | null): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chmod(path, 0o700);
  await own(path, id);
}

/** Atomic write, mode 0600, owned by the run identity. */
async function writePrivate(path: string, content: string, id: OsIdentity | null): Promise<void> {
  const tmp = `${path}.ballast-tmp`;
  await rm(tmp, { force: true });
  await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  await chmod(tmp, 0o600);
  await own(tmp, id);
  await rename(tmp, path);
}

/** Render and write every routing file, then validate haproxy.cfg with `haproxy -c`. */
export async function writeRoutingFiles(setup: RoutingSetup): Promise<RoutingLayout> {
  const id = identityOf(setup);
  const layout = routingLayout(setup.runDir, setup.spec);
  const haproxyCfg = renderHaproxyConfig(setup.spec, setup.members, { socket: layout.haproxySocket });
  await ensureDir(layout.runDir, id);
  await writePrivate(layout.authFile, renderUserlist(setup.credentials), id);
  for (const p of layout.poolers) {
    await ensureDir(p.dir, id);
    await writePrivate(p.config, renderPgbouncerIni(setup.spec, p), id);
  }
  await writePrivate(layout.haproxyConfig, haproxyCfg, id);
  try {
    await runCommand(HAPROXY_BIN, ['-c', '-f', layout.haproxyConfig], { identity: id, timeoutMs: 10_000, cwd: layout.runDir });
  } catch (e) {
    throw new CommandFailedError(`haproxy rejected ${layout.haproxyConfig}: ${errorMessage(e)}`, { cause: e });
  }
  return layout;
}

// ---- pids ----------------------------------------------------------------------------------

/** The pid if it is alive and its command line names `configPath`, else null. */
export async function verifiedPid(pid: number, configPath: string): Promise<number | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  return cmdline !== null && cmdline.split('\0').includes(configPath) ? pid : null;
}

async function pidFromFile(pidFile: string, configPath: string): Promise<number | null> {
  const text = await readFile(pidFile, 'utf8').catch(() => null);
  return text === null ? null : verifiedPid(Number(text.trim()), configPath);
}

export interface RoutingPids {
  haproxy: number | null;
  poolers: (number | null)[];
}

/** Live, verified pids of the routing processes (null where not running). */
export async function routingPids(layout: RoutingLayout): Promise<RoutingPids> {
  return {
    haproxy: await pidFromFile(layout.haproxyPidFile, layout.haproxyConfig),
    poolers: await Promise.all(layout.poolers.map((p) => pidFromFile(p.pidFile, p.config))),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** SIGTERM a verified pid, SIGKILL after timeoutMs; resolves when it is gone. */
export async function stopVerified(pid: number, configPath: string, timeoutMs: number): Promise<void> {
  const signal = async (sig: NodeJS.Signals) => {
    if ((await verifiedPid(pid, configPath)) === null) return false;
    try {
      process.kill(pid, sig);
    } catch {
      return false;
    }
    return true;
  };
  if (!(await signal('SIGTERM'))) return;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await verifiedPid(pid, configPath)) === null) return;
    await sleep(50);
  }
  await signal('SIGKILL');
  for (let i = 0; i < 40 && (await verifiedPid(pid, configPath)) !== null; i++) await sleep(50);
}

/** Stop every routing process of this layout (poolers: immediate shutdown; HAProxy: hard stop). */
export async function stopRouting(layout: RoutingLayout, timeoutMs = 5000): Promise<void> {
  const pids = await routingPids(layout);
  await Promise.all([
    ...layout.poolers.map((p, i) => {
      const pid = pids.poolers[i];
      return pid == null ? Promise.resolve() : stopVerified(pid, p.config, timeoutMs);
    }),
    pids.haproxy === null ? Promise.resolve() : stopVerified(pids.haproxy, layout.haproxyConfig, timeoutMs),
  ]);
  await rm(layout.haproxyPidFile, { force: true });
}

// ---- start ---------------------------------------------------------------------------------

async function logTail(path: string): Promise<string> {
  return tail((await readFile(path, 'utf8').catch(() => '')).slice(-8192), 10);
}

/** Spawn detached and wait until `ready()` holds; fails early if the process exits. */
async function spawnAndWait(bin: string, args: string[], opts: {
  id: OsIdentity | null; logPath: string; cwd: string; timeoutMs: number; what: string; logs: string[];
  ready: () => Promise<boolean>; pidFile?: string;
}): Promise<number> {
  await writeFile(opts.logPath, '', { flag: 'a', mode: 0o600 });
  await own(opts.logPath, opts.id);
  const child = spawnDetached(bin, args, { identity: opts.id, logPath: opts.logPath, cwd: opts.cwd });
  let exited: string | null = null;
  child.once('exit', (code, sig) => {
    exited = sig ? `signal ${sig}` : `exit ${code}`;
  });
  child.once('error', (e) => {
    exited = `spawn error: ${e.message}`;
  });
  const pid = child.pid;
  if (pid !== undefined && opts.pidFile) await writePrivate(opts.pidFile, `${pid}\n`, opts.id);
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    await sleep(50);
    const logs = async () => (await Promise.all(opts.logs.map(logTail))).filter((t) => t !== '').join('\n');
    if (exited !== null || pid === undefined) throw new CommandFailedError(`${opts.what} exited during start (${exited ?? 'no pid'}):\n${await logs()}`);
    if (await opts.ready().catch(() => false)) return pid;
    if (Date.now() > deadline) {
      child.kill('SIGKILL'); // our own child, by its pid
      throw new TimeoutError(`${opts.what} (pid ${pid}) not ready within ${opts.timeoutMs} ms:\n${await logs()}`);
    }
  }
}

export interface StartOptions {
  osUser?: string;
  timeoutMs?: number;
}

/** Start HAProxy (master-worker, foreground) unless ours already runs; returns the master pid. */
export async function startHaproxy(layout: RoutingLayout, opts: StartOptions = {}): Promise<number> {
  const running = await pidFromFile(layout.haproxyPidFile, layout.haproxyConfig);
  if (running !== null) return running;
  const id = identityOf(opts);
  await rm(layout.haproxySocket, { force: true });
  const admin = new HaproxyAdmin(layout.haproxySocket, { timeoutMs: 500 });
  const pid = await spawnAndWait(HAPROXY_BIN, ['-W', '-f', layout.haproxyConfig], {
    id, logPath: layout.haproxyLog, cwd: layout.runDir, timeoutMs: opts.timeoutMs ?? 10_000, what: 'haproxy',
    logs: [layout.haproxyLog], pidFile: layout.haproxyPidFile,
    ready: async () => existsSync(layout.haproxySocket) && (await admin.showServersState()).length >= 0,
  });
  return pid;
}

/** Start pooler process `index` unless it already runs; returns its pid. */
export async function startPooler(layout: RoutingLayout, index: number, opts: StartOptions = {}): Promise<number> {
  const p = layout.poolers[index];
  if (p === undefined) throw new CommandFailedError(`no pooler process ${index} in this layout`);
  const running = await pidFromFile(p.pidFile, p.config);
  if (running !== null) return running;
  await rm(p.pidFile, { force: true });
  const socket = join(p.dir, `.s.PGSQL.${layout.poolerPort}`);
  return spawnAndWait(PGBOUNCER_BIN, ['-q', p.config], {
    id: identityOf(opts), logPath: p.stderrLog, cwd: p.dir, timeoutMs: opts.timeoutMs ?? 10_000,
    what: `pgbouncer ${index}`, logs: [p.stderrLog, p.logFile],
    ready: async () => existsSync(socket) && existsSync(p.pidFile),
  });
}

/** Write the files and start HAProxy, then every pooler process. */
export async function startRouting(setup: RoutingSetup, opts: Omit<StartOptions, 'osUser'> = {}): Promise<RoutingLayout> {
  const layout = await writeRoutingFiles(setup);
  const startOpts = { ...opts, ...(setup.osUser ? { osUser: setup.osUser } : {}) };
  try {
    await startHaproxy(layout, startOpts);
    for (const p of layout.poolers) await startPooler(layout, p.index, startOpts);
  } catch (e) {
    await stopRouting(layout).catch(() => undefined);
    throw e;
  }
  return layout;
}

/** Admin clients, one per pooler process (over its unix socket). */
export function poolerAdmins(layout: RoutingLayout, admin: { user: string; password: string }): PgbouncerAdmin[] {
  return layout.poolers.map((p) => new PgbouncerAdmin({ host: p.dir, port: layout.poolerPort, user: admin.user, password: admin.password }));
}

export function haproxyAdmin(layout: RoutingLayout): HaproxyAdmin {
  return new HaproxyAdmin(layout.haproxySocket);
}
