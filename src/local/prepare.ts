// `ballast up`, first half: make (or re-use) the deployment directory. Allocates loopback
// ports and secrets on the first run; later runs re-use them so the same data restarts.
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import type { AgentConfig, CoordinatorConfig, Secrets } from '../domain/config.js';
import { loadJsonFile, secretsSchema } from '../domain/config.js';
import { InvalidInputError } from '../domain/errors.js';
import { ETCD_NAME, LOOPBACK, coordinatorIds, etcdEndpoint, layoutOf, memberNames, routerIds, type Layout } from './layout.js';
import { checkTraversable, lookupOsUser, type OsUser } from './os-user.js';
import { busyPorts, freePorts } from './ports.js';
import { isRefAlive, postmasterOf } from './proc.js';
import { liveRoutingProcesses, routerConfigOf } from './routing.js';
import { readState, writeFileAtomic, writeState, type DeploymentState } from './state.js';

/** Read pool settings given to `up` (absent: keep the stored or default value). */
export interface ReadPoolFlags {
  maxLagMs?: number | null;
  maxLagBytes?: number | null;
  readFallback?: 'primary' | 'refuse';
}

export interface PrepareOptions {
  /** Absolute, normalised. */
  dir: string;
  /** Undefined: from the existing state, else 3. */
  members?: number;
  /** Undefined: from the existing state, else 'main'. */
  cluster?: string;
  /** Read pool flags; each given one replaces the stored value. */
  readPool?: ReadPoolFlags;
}

export const OS_USER = 'postgres';

/** Resolve symlinks of the longest existing prefix (the rest does not exist yet). */
export function resolveDir(dir: string): string {
  if (existsSync(dir)) return realpathSync(dir);
  const parent = dirname(dir);
  if (parent === dir) return dir;
  return join(resolveDir(parent), basename(dir));
}

export function generateSecrets(): Secrets {
  const pw = () => randomBytes(24).toString('base64url');
  return { superuserPassword: pw(), replicationPassword: pw(), appPassword: pw(), poolerAdminPassword: pw(), repoCipherPass: pw() };
}

/** A secrets file from before routing or backups gets the missing generated secrets (0600, atomic). */
function upgradeSecrets(layout: Layout): void {
  const s = loadSecrets(layout);
  if (s.poolerAdminPassword !== undefined && s.repoCipherPass !== undefined) return;
  const upgraded: Secrets = {
    ...s,
    poolerAdminPassword: s.poolerAdminPassword ?? randomBytes(24).toString('base64url'),
    repoCipherPass: s.repoCipherPass ?? randomBytes(24).toString('base64url'),
  };
  writeFileAtomic(layout.secrets, `${JSON.stringify(upgraded, null, 2)}\n`, 0o600);
}

export function loadSecrets(layout: Layout): Secrets {
  return loadJsonFile(secretsSchema, layout.secrets, 'secrets file');
}

/** Live processes recorded for (or found in) the deployment, as "what pid" strings. */
export function liveProcesses(state: DeploymentState, layout: Layout): string[] {
  const live: string[] = [];
  if (isRefAlive(state.supervisor)) live.push(`supervisor pid ${state.supervisor?.pid}`);
  if (isRefAlive(state.etcd.proc)) live.push(`etcd pid ${state.etcd.proc?.pid}`);
  for (const m of state.members) {
    if (isRefAlive(m.proc)) live.push(`agent ${m.name} pid ${m.proc?.pid}`);
    const pm = postmasterOf(layout.memberData(m.name));
    if (pm) live.push(`postgres ${m.name} pid ${pm.pid}`);
  }
  for (const c of state.coordinators) if (isRefAlive(c.proc)) live.push(`coordinator ${c.id} pid ${c.proc?.pid}`);
  for (const r of state.routers ?? []) if (isRefAlive(r.proc)) live.push(`router ${r.id} pid ${r.proc?.pid}`);
  live.push(...liveRoutingProcesses(state, layout));
  return live;
}

async function allocate(dir: string, cluster: string, count: number): Promise<DeploymentState> {
  const ports = await freePorts(5 + 2 * count);
  const take = (): number => {
    const p = ports.shift();
    if (p === undefined) throw new Error('port allocation ran short');
    return p;
  };
  return {
    version: 1,
    cluster,
    dir,
    createdAt: Date.now(),
    etcd: { name: ETCD_NAME, clientPort: take(), peerPort: take(), proc: null },
    members: memberNames(count).map((name) => ({ name, host: LOOPBACK, port: take(), apiPort: take(), proc: null })),
    coordinators: coordinatorIds().map((id) => ({ id, proc: null })),
    supervisor: null,
    routing: { rwPort: take(), roPort: take(), poolerPort: take() },
    routers: routerIds().map((id) => ({ id, proc: null })),
    backup: defaultBackupState(cluster),
  };
}

export function defaultBackupState(cluster: string): NonNullable<DeploymentState['backup']> {
  return { stanza: cluster, archiveTimeoutSec: 60, retentionFull: 2 };
}

/** Routing ports and routers for a deployment made before routing existed. */
async function addRouting(state: DeploymentState): Promise<DeploymentState> {
  const out = { ...state };
  if (!out.routing) {
    const [rwPort, roPort, poolerPort] = (await freePorts(3)) as [number, number, number];
    out.routing = { rwPort, roPort, poolerPort };
  }
  out.routers ??= routerIds().map((id) => ({ id, proc: null }));
  return out;
}

function mkdirOwned(path: string, mode: number, owner: OsUser | null): void {
  mkdirSync(path, { recursive: true, mode });
  if (owner) chownSync(path, owner.uid, owner.gid);
}

function writeConfigs(state: DeploymentState, layout: Layout, user: OsUser): void {
  const etcd = [etcdEndpoint(state.etcd.clientPort)];
  for (const m of state.members) {
    mkdirOwned(layout.memberDir(m.name), 0o700, user);
    mkdirOwned(layout.memberData(m.name), 0o700, user);
    const cfg: AgentConfig = {
      cluster: state.cluster,
      name: m.name,
      host: m.host,
      port: m.port,
      apiHost: LOOPBACK,
      apiPort: m.apiPort,
      dataDir: layout.memberData(m.name),
      runDir: layout.memberDir(m.name),
      pgBinDir: '/usr/lib/postgresql/15/bin',
      etcd,
      secretsFile: layout.secrets,
      osUser: user.name,
      pgParameters: {},
      ...(state.backup
        ? { backup: { stanza: state.backup.stanza, repo: { kind: 'local' as const, path: layout.backupRepo }, archiveTimeoutSec: state.backup.archiveTimeoutSec, pushQueueMax: '4GiB', processMax: 2 } }
        : {}),
    };
    writeFileAtomic(layout.agentConfig(m.name), `${JSON.stringify(cfg, null, 2)}\n`, 0o644);
  }
  for (const c of state.coordinators) {
    const cfg: CoordinatorConfig = { cluster: state.cluster, id: c.id, etcd, ...(state.backup ? { backupDir: state.dir } : {}) };
    writeFileAtomic(layout.coordinatorConfig(c.id), `${JSON.stringify(cfg, null, 2)}\n`, 0o644);
  }
  for (const r of state.routers ?? []) {
    writeFileAtomic(layout.routerConfig(r.id), `${JSON.stringify(routerConfigOf(state, layout, r.id, user.name), null, 2)}\n`, 0o644);
  }
}

/**
 * Create or re-use DIR. Refuses when a cluster there still runs, when DIR is some other
 * non-empty directory, or when re-used ports are taken. Returns the state (no pids yet).
 */
export async function prepareDeployment(opts: PrepareOptions): Promise<DeploymentState> {
  if (process.getuid?.() !== 0) {
    throw new InvalidInputError('ballast up must run as root (agents run postgres as the postgres user)');
  }
  const user = lookupOsUser(OS_USER);
  const dir = resolveDir(opts.dir);
  checkTraversable(dir, user);
  const layout = layoutOf(dir);
  const existing = readState(layout.state);
  let state: DeploymentState;
  if (existing) {
    if (opts.cluster !== undefined && opts.cluster !== existing.cluster) {
      throw new InvalidInputError(`${dir} holds cluster '${existing.cluster}', not '${opts.cluster}'; use another --dir`);
    }
    if (opts.members !== undefined && opts.members !== existing.members.length) {
      throw new InvalidInputError(
        `${dir} holds ${existing.members.length} members; changing --members of an existing deployment is not supported`,
      );
    }
    const live = liveProcesses(existing, layout);
    if (live.length > 0) {
      throw new InvalidInputError(
        `a cluster in ${dir} is already running (${live.join(', ')}); see "ballast status --dir ${dir}" or stop it with "ballast down --dir ${dir}"`,
      );
    }
    const r = existing.routing;
    const ports = [existing.etcd.clientPort, existing.etcd.peerPort, ...existing.members.flatMap((m) => [m.port, m.apiPort])];
    if (r) ports.push(r.rwPort, r.roPort, r.poolerPort);
    const busy = await busyPorts(ports);
    if (busy.length > 0) throw new InvalidInputError(`ports of the deployment in ${dir} are in use by something else: ${busy.join(', ')}`);
    state = await addRouting({ ...existing, dir, supervisor: null });
    state.backup ??= defaultBackupState(state.cluster);
  } else {
    if (existsSync(dir) && readdirSync(dir).length > 0) {
      throw new InvalidInputError(`${dir} is not empty and holds no ballast deployment (no state.json); use an empty or new directory`);
    }
    state = await allocate(dir, opts.cluster ?? 'main', opts.members ?? 3);
  }
  if (state.routing && opts.readPool) state = { ...state, routing: { ...state.routing, ...opts.readPool } };
  mkdirOwned(dir, 0o755, null);
  if (!existsSync(layout.secrets)) {
    writeFileSync(layout.secrets, `${JSON.stringify(generateSecrets(), null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  }
  upgradeSecrets(layout); // validates an existing file, adds the pooler admin password
  mkdirOwned(layout.etcdData, 0o700, null);
  mkdirOwned(layout.membersDir, 0o755, null);
  mkdirOwned(layout.coordinatorsDir, 0o755, null);
  mkdirOwned(layout.routersDir, 0o755, null);
  mkdirOwned(layout.logsDir, 0o750, null);
  for (const d of [layout.backupDir, layout.backupRepo, layout.backupLog, layout.backupLock]) mkdirOwned(d, 0o700, user);
  writeConfigs(state, layout, user);
  writeState(layout.state, state);
  return state;
}
