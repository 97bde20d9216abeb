// `ballast up`, `down` and the internal `supervise`: the local ("embedded") deployment.
// up: prepare DIR -> run the supervisor (in this process, or detached) -> wait until ready
// -> print how to connect. down: stop the supervisor (or, if it is gone, the processes it
// left) by verified pid, then check nothing of the deployment still lives.
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import { APP_DATABASE, APP_USER } from '../domain/config.js';
import { BallastError, CommandFailedError, TimeoutError, errorMessage } from '../domain/errors.js';
import { LOOPBACK, etcdEndpoint, layoutOf } from '../local/layout.js';
import { liveProcesses, loadSecrets, prepareDeployment, resolveDir } from '../local/prepare.js';
import { isRefAlive, procRefOf, signalRef, sleep, waitForExit, type ProcRef } from '../local/proc.js';
import { readState, writeState, type DeploymentState } from '../local/state.js';
import { stopDeploymentProcesses, survivors } from '../local/stop.js';
import { BALLAST_BIN, Supervisor } from '../local/supervisor.js';
import { parseDir, parseUpArgs } from './args.js';
import { renderTable } from './describe.js';
import { EXIT_OK, createProgress, printJson, type Io } from './io.js';
import { nextSignal } from './process-commands.js';
import { assessReadiness } from './readiness.js';
import { withStore } from './target.js';
import { buildPoolerUri, buildRwUri } from './uri.js';
import { readOnlyDatabase } from '../routing/routing-types.js';
import pg from 'pg';
import { ensureFirstBackup } from '../backup/operations.js';
import { localBackupSite } from '../local/backup-site.js';

export const UP_TIMEOUT_MS = 120000;
const SUPERVISOR_STOP_MS = 120000;

function stamp(line: string): string {
  return `${new Date().toISOString()} ${line}\n`;
}

/** Wait until the cluster is ready; `failed()` returns an error to give up early. */
async function waitReady(state: DeploymentState, progress: (l: string) => void, failed: () => Error | null): Promise<void> {
  const names = state.members.map((m) => m.name);
  const deadline = Date.now() + UP_TIMEOUT_MS;
  await withStore([etcdEndpoint(state.etcd.clientPort)], async (store) => {
    for (;;) {
      const err = failed();
      if (err) throw err;
      const snap = await store.readCluster(state.cluster).catch(() => null);
      const r = assessReadiness(snap, names);
      progress(r.line);
      if (r.ready) return;
      if (Date.now() > deadline) {
        throw new TimeoutError(`cluster not ready after ${UP_TIMEOUT_MS / 1000} s (${r.line}); logs are in ${layoutOf(state.dir).logsDir}`);
      }
      await sleep(500);
    }
  });
}

export interface Endpoints {
  /** Through PgBouncer -> HAProxy rw: always the primary. */
  rw: string;
  /** Through PgBouncer (database <db>_ro) -> HAProxy ro: a standby within the lag limit. */
  ro: string;
  /** Multi-host libpq URI straight to the members (target_session_attrs=read-write). */
  direct: string;
}

export function endpointsOf(state: DeploymentState): Endpoints {
  const secrets = loadSecrets(layoutOf(state.dir));
  const hosts = state.members.map((m) => ({ host: m.host, port: m.port }));
  const direct = buildRwUri(APP_USER, secrets.appPassword, hosts, APP_DATABASE);
  const r = state.routing;
  if (!r) return { rw: direct, ro: direct, direct };
  const pooler = { host: LOOPBACK, port: r.poolerPort };
  return {
    rw: buildPoolerUri(APP_USER, secrets.appPassword, pooler, APP_DATABASE),
    ro: buildPoolerUri(APP_USER, secrets.appPassword, pooler, readOnlyDatabase(APP_DATABASE)),
    direct,
  };
}

/** Wait until a query through endpoints.rw reaches a primary (pg_is_in_recovery() = false). */
async function waitPooler(state: DeploymentState, progress: (l: string) => void, failed: () => Error | null): Promise<void> {
  const { rw } = endpointsOf(state);
  const deadline = Date.now() + UP_TIMEOUT_MS;
  let last = 'no answer yet';
  for (;;) {
    const err = failed();
    if (err) throw err;
    const c = new pg.Client({ connectionString: rw, connectionTimeoutMillis: 2000, query_timeout: 2000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const r = await c.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec');
      if (r.rows[0]?.rec === false) return;
      last = 'the read-write endpoint reached a standby';
    } catch (e) {
      last = scrubUri(errorMessage(e), rw);
    } finally {
      await c.end().catch(() => undefined);
    }
    progress(`waiting: the read-write endpoint (pooler port ${state.routing?.poolerPort}): ${last}`);
    if (Date.now() > deadline) throw new TimeoutError(`the read-write endpoint did not reach the primary within ${UP_TIMEOUT_MS / 1000} s (${last}); see ${layoutOf(state.dir).log('rt1')}`);
    await sleep(300);
  }
}

/** Archiving is on from the first start; the stanza and a first full backup are made here once. */
async function setUpBackups(state: DeploymentState, progress: (l: string) => void): Promise<void> {
  if (!state.backup) return;
  await withStore([etcdEndpoint(state.etcd.clientPort)], async (store) => {
    const snap = await store.readCluster(state.cluster);
    const site = localBackupSite(state, loadSecrets(layoutOf(state.dir)));
    const r = await ensureFirstBackup({ site, members: snap.members, primary: snap.view?.primary ?? null, syncStandbys: snap.view?.syncStandbys ?? [], progress });
    if (r) {
      progress(`backups: first full backup ${r.backup.id} taken from ${r.backup.member ?? '?'} in ${r.seconds.toFixed(1)} s`);
      await store.appendEvent(state.cluster, { at: Date.now(), source: 'backup', level: 'info', message: `first full backup ${r.backup.id} taken from ${r.backup.member ?? '?'} (code backup-done)` }).catch(() => undefined);
    }
  });
}

function scrubUri(text: string, uri: string): string {
  return text.split(uri).join('<endpoint>');
}

export function printUp(io: Io, state: DeploymentState, json: boolean, detached: boolean): void {
  const layout = layoutOf(state.dir);
  const { rw, ro, direct } = endpointsOf(state);
  const etcd = [etcdEndpoint(state.etcd.clientPort)];
  if (json) {
    printJson(io, {
      cluster: state.cluster,
      dir: state.dir,
      endpoints: { rw, ro, direct },
      members: state.members.map((m) => ({ name: m.name, host: m.host, port: m.port })),
      etcd,
      secretsFile: layout.secrets,
    });
    return;
  }
  const table = renderTable(['NAME', 'HOST', 'PORT', 'AGENT_API'], state.members.map((m) => [m.name, m.host, String(m.port), String(m.apiPort)]));
  io.out(
    [
      `cluster ${state.cluster} is up in ${state.dir}`,
      '',
      `read-write: ${rw}`,
      `read-only:  ${ro}`,
      `direct:     ${direct}`,
      '',
      table,
      '',
      `etcd: ${etcd.join(',')}   secrets: ${layout.secrets}   logs: ${layout.logsDir}`,
      `status: ballast status --dir ${state.dir}`,
      detached ? `stop:   ballast down --dir ${state.dir}` : `stop:   Ctrl-C here, or ballast down --dir ${state.dir}`,
      '',
    ].join('\n'),
  );
}

export async function upCommand(
  io: Io,
  o: { dir?: string; members?: string; cluster?: string; detach?: boolean; json?: boolean; maxLagMs?: string; maxLagBytes?: string; readFallback?: string },
): Promise<number> {
  const a = parseUpArgs(o);
  const progress = createProgress(io);
  const state = await prepareDeployment({ dir: a.dir, members: a.members, cluster: a.cluster, readPool: a.readPool });
  progress(`starting cluster ${state.cluster} in ${state.dir} (${state.members.length} members, etcd ${etcdEndpoint(state.etcd.clientPort)})`);
  if (a.detach) {
    await launchDetached(state, progress);
    printUp(io, state, o.json === true, true);
    return EXIT_OK;
  }
  return runForeground(io, state, progress, o.json === true);
}

/** Start the supervisor of a prepared deployment in the background and wait until it is ready (backups set up). */
export async function launchDetached(state: DeploymentState, progress: (l: string) => void): Promise<void> {
  const layout = layoutOf(state.dir);
  const fd = openSync(layout.log('supervisor'), 'a', 0o640);
  let ref: ProcRef | null;
  try {
    const child = spawn(process.execPath, [BALLAST_BIN, 'supervise', '--dir', state.dir], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    ref = child.pid === undefined ? null : procRefOf(child.pid);
  } finally {
    closeSync(fd);
  }
  const gone = () => (isRefAlive(ref) ? null : new CommandFailedError(`the supervisor exited; see ${layout.log('supervisor')}`));
  const ready = async () => {
    await waitReady(state, progress, gone);
    await waitPooler(state, progress, gone);
    await setUpBackups(state, progress);
  };
  await ready().catch((e: unknown) => {
    if (e instanceof TimeoutError) throw new TimeoutError(`${e.message}; the cluster keeps starting in the background ("ballast down --dir ${state.dir}" stops it)`);
    throw e;
  });
}

async function runForeground(io: Io, state: DeploymentState, progress: (l: string) => void, json: boolean): Promise<number> {
  const layout = layoutOf(state.dir);
  const sig = nextSignal();
  const sup = Supervisor.open(state.dir, {
    log: (line) => {
      appendFileSync(layout.log('supervisor'), stamp(line));
      io.err(`${line}\n`);
    },
  });
  let startError: Error | null = null;
  let signalled = false;
  // A signal at any point stops everything (the supervisor's stop is idempotent).
  void sig.signal
    .then(() => {
      signalled = true;
      return sup.stop();
    })
    .catch(() => undefined);
  try {
    await sup.start().catch((e: unknown) => {
      startError = e instanceof Error ? e : new Error(String(e));
    });
    const failed = () => startError ?? (signalled ? new BallastError('COMMAND_FAILED', 'interrupted before the cluster was ready') : null);
    try {
      await waitReady(state, progress, failed);
      await waitPooler(state, progress, failed);
      await setUpBackups(state, progress);
    } catch (e) {
      await sup.stop();
      if (signalled) return EXIT_OK;
      throw e;
    }
    printUp(io, state, json, false);
    await sig.signal;
    const report = await sup.stop();
    return report.failed.length === 0 ? EXIT_OK : 1;
  } finally {
    sig.dispose();
  }
}

export async function superviseCommand(io: Io, o: { dir?: string }): Promise<number> {
  const dir = resolveDir(parseDir(o.dir));
  const sig = nextSignal();
  const keepAlive = setInterval(() => undefined, 3600000);
  try {
    const sup = Supervisor.open(dir, { log: (line) => io.err(stamp(line)) });
    void sig.signal.then(() => sup.stop()).catch(() => undefined);
    try {
      await sup.start();
    } catch (e) {
      await sup.stop();
      throw e;
    }
    await sig.signal;
    const report = await sup.stop();
    return report.failed.length === 0 ? EXIT_OK : 1;
  } finally {
    clearInterval(keepAlive);
    sig.dispose();
  }
}

export async function downCommand(io: Io, o: { dir?: string; json?: boolean }): Promise<number> {
  const dir = resolveDir(parseDir(o.dir));
  const layout = layoutOf(dir);
  const progress = createProgress(io);
  const before = readState(layout.state);
  if (!before) throw new BallastError('NOT_FOUND', `${dir} holds no ballast deployment (no state.json)`);
  const running = liveProcesses(before, layout);
  if (running.length > 0) {
    const sup = before.supervisor;
    if (sup && isRefAlive(sup)) {
      progress(`stopping supervisor (pid ${sup.pid})`);
      signalRef(sup, 'SIGTERM');
      if (!(await waitForExit(sup, SUPERVISOR_STOP_MS))) {
        progress(`supervisor (pid ${sup.pid}) did not stop in ${SUPERVISOR_STOP_MS / 1000} s; killing it and stopping its children directly`);
        signalRef(sup, 'SIGKILL');
        await waitForExit(sup, 5000);
      }
    }
    const after = readState(layout.state) ?? before;
    await stopDeploymentProcesses(after, layout, progress);
    const left = [...new Set([...survivors(before, layout), ...survivors(after, layout)])];
    if (left.length > 0) throw new CommandFailedError(`could not stop: ${left.join(', ')}`);
    after.supervisor = null;
    after.etcd.proc = null;
    for (const m of after.members) m.proc = null;
    for (const c of after.coordinators) c.proc = null;
    for (const r of after.routers ?? []) r.proc = null;
    writeState(layout.state, after);
  }
  if (o.json) printJson(io, { cluster: before.cluster, dir, wasRunning: running.length > 0, stopped: running });
  else if (running.length === 0) io.out(`cluster ${before.cluster} in ${dir} is not running\n`);
  else io.out(`stopped cluster ${before.cluster} in ${dir}: ${running.join(', ')}\n`);
  return EXIT_OK;
}
