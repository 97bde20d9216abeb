// `ballast restore` for local deployments: a new, independent cluster in NEW_DIR (its own etcd,
// ports, secrets, repository and stanza) whose first member is restored from the source's
// repository and recovered to the target; the source is only read (plus, when it runs, one empty
// transaction and a WAL switch so that a target seconds in the past is in the archive).
// Steps: check input -> (live source: txid + pg_switch_wal, wait until archived) -> check the
// window -> prepare NEW_DIR -> pgbackrest restore into pg1 -> recover and promote -> start the
// cluster (the other members clone from pg1; a first full backup into its own repository).
import { existsSync, readdirSync, rmSync } from 'node:fs';
import pg from 'pg';
import { agentConfigSchema, loadJsonFile, SUPERUSER, type Secrets } from '../domain/config.js';
import { BallastError, CommandFailedError, InvalidInputError, TimeoutError, errorMessage } from '../domain/errors.js';
import { createLogger } from '../domain/log.js';
import { PostgresControl } from '../agent/postgres-control.js';
import { resolveRunIdentity } from '../agent/run-as.js';
import { backupBefore, newestBackup, restorableWindow, type StanzaInfo } from '../backup/backup-info.js';
import { readStanzaInfo } from '../backup/operations.js';
import { recoverToTarget, restoreDataDir } from '../backup/recover.js';
import { openRepoSide } from '../backup/repo-side.js';
import { checkTargetInWindow, type RestoreTarget } from '../backup/restore-target.js';
import { compareLsn } from '../domain/lsn.js';
import type { MemberStatus } from '../domain/types.js';
import { createEtcdStore } from '../store/etcd-store.js';
import { localBackupSite } from './backup-site.js';
import { etcdEndpoint, layoutOf } from './layout.js';
import { loadSecrets, OS_USER, prepareDeployment, resolveDir } from './prepare.js';
import { sleep } from './proc.js';
import { readState, type DeploymentState } from './state.js';

export interface RestoreOptions {
  fromDir: string;
  intoDir: string;
  target: RestoreTarget;
  members?: number;
  cluster?: string;
  progress: (line: string) => void;
}

export interface RestoredSource {
  state: DeploymentState;
  secrets: Secrets;
  info: StanzaInfo;
  live: boolean;
}

/** Refuse bad --from/--into before anything is touched. */
export function checkRestoreDirs(fromDir: string, intoDir: string): { from: string; into: string; source: DeploymentState } {
  const from = resolveDir(fromDir);
  const into = resolveDir(intoDir);
  const source = readState(layoutOf(from).state);
  if (!source) throw new BallastError('NOT_FOUND', `--from ${from} holds no ballast deployment (no state.json)`);
  if (into === from || into.startsWith(`${from}/`) || from.startsWith(`${into}/`)) {
    throw new InvalidInputError(`--into ${into} must be a new directory outside the source deployment ${from}`);
  }
  if (existsSync(into) && readdirSync(into).length > 0) throw new InvalidInputError(`--into ${into} is not empty; restore creates a new cluster in a new or empty directory`);
  return { from, into, source };
}

/** The deployment's healthy primary as the store reports it, or null (none, or not running). */
export async function livePrimary(state: DeploymentState, callTimeoutMs = 1500): Promise<MemberStatus | null> {
  const store = createEtcdStore([etcdEndpoint(state.etcd.clientPort)], { callTimeoutMs });
  try {
    const snap = await store.readCluster(state.cluster);
    return snap.members.find((m) => m.name === snap.view?.primary && m.healthy && m.inRecovery === false) ?? null;
  } catch {
    return null;
  } finally {
    await store.close().catch(() => undefined);
  }
}

/**
 * On a running source: one empty transaction (a commit record after any time target, which
 * recovery needs to stop at it), a WAL switch, then wait until that segment is archived.
 */
export async function archiveNow(primary: { host: string; port: number }, secrets: Secrets, progress: (l: string) => void): Promise<string> {
  const c = new pg.Client({ host: primary.host, port: primary.port, user: SUPERUSER, password: secrets.superuserPassword, database: 'postgres', connectionTimeoutMillis: 5000, application_name: 'ballast-restore' });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query('SELECT txid_current()');
    const r = await c.query<{ seg: string; lsn: string }>('SELECT pg_walfile_name(l) AS seg, l::text AS lsn FROM pg_switch_wal() l');
    const seg = r.rows[0]!.seg;
    progress(`source: switched WAL; waiting until segment ${seg} is archived`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const w = await c.query<{ waiting: boolean }>(
        "SELECT EXISTS (SELECT 1 FROM pg_ls_archive_statusdir() WHERE name ~ '^[0-9A-F]{24}\\.ready$' AND substr(name, 1, 24) <= $1) AS waiting", [seg]);
      if (w.rows[0]?.waiting === false) return r.rows[0]!.lsn;
      if (Date.now() > deadline) throw new TimeoutError(`the source's WAL segment ${seg} was not archived within 60 s: is WAL archiving failing? (ballast status --dir on the source)`);
      await sleep(200);
    }
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Read the source's backups and, when it runs, bring its archive up to now. */
export async function inspectSource(state: DeploymentState, progress: (l: string) => void): Promise<RestoredSource> {
  const secrets = loadSecrets(layoutOf(state.dir));
  const site = localBackupSite(state, secrets);
  const info = await readStanzaInfo(await site.pgbackrest(state.members.map((m) => m.name)));
  const primary = await livePrimary(state);
  if (primary) await archiveNow(primary, secrets, progress);
  return { state, secrets, info, live: primary !== null };
}

/** The backup to restore from: the newest one that ends before the target (pgBackRest's own choice for --latest/--xid). */
export function chooseSet(info: StanzaInfo, target: RestoreTarget): string | null {
  if (target.kind === 'time') return backupBefore(info, target.ms)?.id ?? null;
  if (target.kind === 'lsn') {
    const ok = info.backups.filter((b) => !b.error && compareLsn(b.stopLsn, target.lsn) <= 0);
    return ok[ok.length - 1]?.id ?? null;
  }
  return newestBackup(info)?.id ?? null;
}

export async function restoreLocal(o: RestoreOptions): Promise<DeploymentState> {
  const { into, source } = checkRestoreDirs(o.fromDir, o.intoDir);
  const src = await inspectSource(source, o.progress);
  const w = restorableWindow(src.info, src.live ? Date.now() : null);
  checkTargetInWindow(o.target, { from: w.from, to: src.live ? w.to : null }, Date.now());
  const set = chooseSet(src.info, o.target);
  if (o.target.kind === 'lsn' && set === null) {
    throw new InvalidInputError(`--lsn ${o.target.lsn} is before the end of the oldest backup (${src.info.backups[0]?.stopLsn ?? 'none'}); the restorable window starts there`);
  }
  const state = await prepareDeployment({ dir: into, members: o.members ?? source.members.length, cluster: o.cluster ?? source.cluster });
  const layout = layoutOf(state.dir);
  const first = state.members[0]!;
  const identity = resolveRunIdentity(OS_USER);
  // Read the source's repository with its stanza and cipher pass; the file lives in NEW_DIR (0600).
  const confPath = `${layout.backupDir}/restore-source.conf`;
  const pgb = openRepoSide({
    confPath, stanza: source.backup!.stanza, repo: { kind: 'local', path: layoutOf(source.dir).backupRepo }, cipherPass: src.secrets.repoCipherPass!,
    logDir: layout.backupLog, lockDir: layout.backupLock,
    members: [{ dataDir: layout.memberData(first.name), port: first.port, socketDir: layout.memberDir(first.name) }], identity, cwd: layout.backupDir,
  });
  o.progress(`restore: ${first.name} from backup ${set ?? '(newest)'} of ${source.dir}, target ${describeTarget(o.target)}`);
  await restoreDataDir({ pgb, target: o.target, set, progress: o.progress });
  const cfg = loadJsonFile(agentConfigSchema, layout.agentConfig(first.name), 'agent config');
  const { backup: _archiving, ...noArchiving } = cfg;
  const log = createLogger('restore', { member: first.name });
  log.level = 'warn'; // progress lines tell the story on the terminal
  const ctl = new PostgresControl({ ...noArchiving }, loadSecrets(layout), log);
  try {
    await recoverToTarget(ctl, cfg.dataDir, o.progress);
  } catch (e) {
    await ctl.stop('immediate', 30_000).catch(() => undefined);
    throw new CommandFailedError(`restoring into ${into} failed (the directory is left for inspection; remove it before trying again): ${errorMessage(e)}`, { cause: e });
  } finally {
    await ctl.close();
    // It holds the source's cipher pass: the new cluster has no business keeping it.
    rmSync(confPath, { force: true });
  }
  return state;
}

export function describeTarget(t: RestoreTarget): string {
  switch (t.kind) {
    case 'time': return `time ${t.time}`;
    case 'lsn': return `LSN ${t.lsn}`;
    case 'xid': return `transaction ${t.xid}`;
    case 'latest': return 'the end of the archive';
  }
}
