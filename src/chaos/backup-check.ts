// Backups in a chaos run: a dedicated backup host (bk) holds the pgBackRest repository and runs
// `pgbackrest server` (TLS, certificates from a Ballast CA made for the run, clients authorized
// by certificate CN). Every member archives to it over TLS (its member file names bk as
// repo1-host; the members never hold the repository's cipher pass); each Postgres host runs a
// `pgbackrest server` of its own, through which bk's backup command reads a standby's files. A
// first full backup is taken on bk once the cluster is healthy. After the run (and its
// teardown), the archive is restored to its end on the backup host's disk into a scratch
// instance: every acknowledged write older than archive_timeout before the end must be in it.
//
//   DIR/backup/{repo,log,lock,pgbackrest.conf}  the backup host's repository and file
//   DIR/tls/ca.crt, <host>.crt, <host>.key       the run's CA and each host's certificate
//   DIR/hosts/<pN>/pgbackrest/{server.conf,log,lock}  a Postgres host's TLS server
import { chownSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { agentConfigSchema, APP_DATABASE, loadJsonFile, secretsSchema, SUPERUSER, type BackupConfig, type Secrets } from '../domain/config.js';
import { errorMessage } from '../domain/errors.js';
import { createLogger } from '../domain/log.js';
import { PostgresControl } from '../agent/postgres-control.js';
import { resolveRunIdentity } from '../agent/run-as.js';
import { createPgBackRest, PGBACKREST_BIN, type PgBackRest } from '../backup/pgbackrest.js';
import { recoverToTarget, restoreDataDir } from '../backup/recover.js';
import { DEFAULT_RETENTION, renderPgHostServerConf, renderRepoConf, type PgInstance, type TlsServer } from '../backup/render-pgbackrest.js';
import { openRepoSide } from '../backup/repo-side.js';
import { lookupOsUser } from '../local/os-user.js';
import { freePorts } from '../local/ports.js';
import { writeFileAtomic } from '../local/state.js';
import { caFilesOf, certFilesOf, createCa, issueCert } from '../tls/certs.js';
import type { AckRecord } from './history.js';
import { LISTS_TABLE } from './workers.js';

function secretsOf(l: ChaosBackupLayout): Secrets {
  return loadJsonFile(secretsSchema, l.secretsFile, 'secrets file');
}

export const CHAOS_ARCHIVE_TIMEOUT_SEC = 10;
/** pgBackRest's TLS server port, on the backup host and on every Postgres host. */
export const PGBACKREST_TLS_PORT = 8432;
const OS_USER = 'postgres';
/** Run what follows as the postgres OS user (setpriv execs it: the pid stays the command's). */
const AS_POSTGRES = ['/usr/bin/setpriv', `--reuid=${OS_USER}`, `--regid=${OS_USER}`, '--init-groups', '--'];
const IP_BIN = '/usr/sbin/ip';

export interface ChaosBackupMember {
  name: string;
  /** Its host's name (the CN of the host's certificate) and address. */
  host: string;
  ip: string;
  dataDir: string;
  runDir: string;
  port: number;
  /** The host's own directory (its pgbackrest server's file, log and lock live under it). */
  hostDir: string;
}

export interface ChaosBackupLayout {
  dir: string;
  repo: string;
  /** The backup host's pgBackRest file (repository side + TLS server). */
  conf: string;
  secretsFile: string;
  stanza: string;
  tlsDir: string;
  backupHost: { name: string; ip: string; ns: string };
  members: ChaosBackupMember[];
}

export function backupLayoutOf(dir: string, secretsFile: string, stanza: string, backupHost: ChaosBackupLayout['backupHost'], members: ChaosBackupMember[]): ChaosBackupLayout {
  const b = join(dir, 'backup');
  return { dir: b, repo: join(b, 'repo'), conf: join(b, 'pgbackrest.conf'), secretsFile, stanza, tlsDir: join(dir, 'tls'), backupHost, members };
}

function serverDirs(m: ChaosBackupMember): { conf: string; log: string; lock: string } {
  const base = join(m.hostDir, 'pgbackrest');
  return { conf: join(base, 'server.conf'), log: join(base, 'log'), lock: join(base, 'lock') };
}

/** `pgbackrest server` of the backup host or of a member's host, as the postgres OS user (argv for its namespace). */
export function serverArgv(l: ChaosBackupLayout, member: ChaosBackupMember | null): string[] {
  const conf = member ? serverDirs(member).conf : l.conf;
  return [...AS_POSTGRES, PGBACKREST_BIN, `--config=${conf}`, 'server'];
}

/** The agents' `backup` section: the repository on the backup host, over TLS with the member host's certificate. */
export function chaosBackupConfig(l: ChaosBackupLayout, member: ChaosBackupMember): BackupConfig {
  const c = certFilesOf(caFilesOf(l.tlsDir), member.host);
  return {
    stanza: l.stanza,
    repo: { kind: 'tls', host: l.backupHost.ip, port: PGBACKREST_TLS_PORT, path: l.repo, caFile: c.caFile, certFile: c.certFile, keyFile: c.keyFile },
    archiveTimeoutSec: CHAOS_ARCHIVE_TIMEOUT_SEC, pushQueueMax: '256MiB', processMax: 1,
  };
}

function tlsServer(l: ChaosBackupLayout, host: string, ip: string, clients: string[]): TlsServer {
  const c = certFilesOf(caFilesOf(l.tlsDir), host);
  return { address: ip, port: PGBACKREST_TLS_PORT, caFile: c.caFile, certFile: c.certFile, keyFile: c.keyFile, clients: clients.map((cn) => ({ cn, stanzas: [l.stanza] })) };
}

function writeOwned(path: string, text: string): void {
  const u = lookupOsUser(OS_USER);
  writeFileAtomic(path, text, 0o600);
  chownSync(path, u.uid, u.gid);
}

/**
 * Before the agents start: the run's CA and every host's certificate (bk and the Postgres
 * hosts), the repository directory, the backup host's file and each Postgres host's server file.
 */
export async function prepareBackupHosts(l: ChaosBackupLayout): Promise<void> {
  const u = lookupOsUser(OS_USER);
  const dirs = [l.dir, l.repo, join(l.dir, 'log'), join(l.dir, 'lock'), ...l.members.flatMap((m) => { const d = serverDirs(m); return [join(d.conf, '..'), d.log, d.lock]; })];
  for (const d of dirs) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chownSync(d, u.uid, u.gid);
  }
  const ca = await createCa(l.tlsDir, { cn: `Ballast chaos CA ${l.stanza}`, days: 7 });
  const owner = { uid: u.uid, gid: u.gid };
  await issueCert(ca, { name: l.backupHost.name, ips: [l.backupHost.ip], owner, days: 7 });
  for (const m of l.members) await issueCert(ca, { name: m.host, ips: [m.ip], owner, days: 7 });
  const secrets = secretsOf(l);
  const bkCert = certFilesOf(ca, l.backupHost.name);
  writeOwned(l.conf, renderRepoConf({
    stanza: l.stanza, repo: { kind: 'local', path: l.repo }, cipherPass: secrets.repoCipherPass!, logDir: join(l.dir, 'log'), lockDir: join(l.dir, 'lock'),
    processMax: 2, retention: DEFAULT_RETENTION,
    members: l.members.map((m): PgInstance => ({
      dataDir: m.dataDir, port: m.port, socketDir: m.runDir,
      host: { address: m.ip, port: PGBACKREST_TLS_PORT, caFile: bkCert.caFile, certFile: bkCert.certFile, keyFile: bkCert.keyFile },
    })),
    server: tlsServer(l, l.backupHost.name, l.backupHost.ip, l.members.map((m) => m.host)),
  }));
  for (const m of l.members) {
    const d = serverDirs(m);
    writeOwned(d.conf, renderPgHostServerConf({
      stanza: l.stanza, logDir: d.log, lockDir: d.lock, self: { dataDir: m.dataDir, port: m.port, socketDir: m.runDir },
      server: tlsServer(l, m.host, m.ip, [l.backupHost.name]),
    }));
  }
}

/** A repository-side file on the backup host's disk (the final check runs after the teardown, in the root namespace). */
function repoSide(l: ChaosBackupLayout, pgs: { dataDir: string; runDir: string; port: number }[], file: string): PgBackRest {
  return openRepoSide({
    confPath: join(l.dir, file), stanza: l.stanza, repo: { kind: 'local', path: l.repo }, cipherPass: secretsOf(l).repoCipherPass!,
    logDir: join(l.dir, 'log'), lockDir: join(l.dir, 'lock'), members: pgs.map((m) => ({ dataDir: m.dataDir, port: m.port, socketDir: m.runDir })),
    identity: resolveRunIdentity(OS_USER), cwd: l.dir,
  });
}

/** pgBackRest run on the backup host (inside its namespace, as the postgres OS user) with its file. */
function onBackupHost(l: ChaosBackupLayout): PgBackRest {
  const secrets = secretsOf(l);
  return createPgBackRest({
    stanza: l.stanza, configFile: l.conf, identity: null, redact: [secrets.repoCipherPass!], cwd: l.dir,
    wrap: [IP_BIN, 'netns', 'exec', l.backupHost.ns, ...AS_POSTGRES],
  });
}

/** stanza-create and a first full backup (from a standby, read through its host's TLS server), on the backup host. */
export async function setUpBackups(l: ChaosBackupLayout, log: (line: string) => void): Promise<void> {
  const pgb = onBackupHost(l);
  await pgb.run(['stanza-create'], { timeoutMs: 120_000 });
  const t0 = Date.now();
  await pgb.run(['backup', '--type=full'], { timeoutMs: 600_000 });
  log(`backups: stanza ${l.stanza} created on the backup host ${l.backupHost.name}, first full backup in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

export interface ArchiveCheck {
  ok: boolean;
  /** Acknowledged writes that had to be in the archive (older than archive_timeout before the end). */
  required: number;
  missing: number[];
  /** Acknowledged writes present although younger than the bound (the forced WAL switch). */
  youngerPresent: number;
  restoreSeconds: number;
  error: string | null;
}

/** Make the primary (reached over its Unix socket) switch WAL, so the archive ends near now. */
export async function switchWal(member: { runDir: string; port: number }): Promise<void> {
  const c = new pg.Client({ host: member.runDir, port: member.port, user: SUPERUSER, database: 'postgres', connectionTimeoutMillis: 3000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query('SELECT txid_current()');
    await c.query('SELECT pg_switch_wal()');
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Restore the end of the archive into a scratch instance and look for every old enough acknowledged write. */
export async function checkArchive(l: ChaosBackupLayout, acks: AckRecord[], endedAt: number, log: (line: string) => void): Promise<ArchiveCheck> {
  const t0 = Date.now();
  const scratch = join(l.dir, 'restore-check');
  const dataDir = join(scratch, 'data');
  const u = lookupOsUser(OS_USER);
  for (const d of [scratch, dataDir]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chownSync(d, u.uid, u.gid);
  }
  const [port] = (await freePorts(1)) as [number];
  const config = agentConfigSchema.parse({
    cluster: l.stanza, name: 'restorecheck', host: '127.0.0.1', port, apiHost: '127.0.0.1', apiPort: port, dataDir, runDir: scratch,
    etcd: ['http://127.0.0.1:1'], secretsFile: l.secretsFile, osUser: OS_USER, pgParameters: { shared_buffers: '32MB' },
  });
  const logger = createLogger('chaos-restore-check');
  logger.level = 'warn';
  const ctl = new PostgresControl(config, secretsOf(l), logger);
  const bound = endedAt - CHAOS_ARCHIVE_TIMEOUT_SEC * 1000;
  const acked = acks.filter((a) => a.ok);
  const required = acked.filter((a) => a.e < bound);
  try {
    const pgb = repoSide(l, [{ dataDir, runDir: scratch, port }], 'restore-check.conf');
    await restoreDataDir({ pgb, target: { kind: 'latest' }, set: null, progress: (line) => log(`archive check: ${line}`) });
    await recoverToTarget(ctl, dataDir, (line) => log(`archive check: ${line}`), { keepRunning: true, timeoutMs: 600_000 });
    const c = new pg.Client({ host: scratch, port, user: SUPERUSER, database: APP_DATABASE, connectionTimeoutMillis: 5000 });
    c.on('error', () => undefined);
    await c.connect();
    let present: Set<string>;
    try {
      const rows = (await c.query<{ k: string; ids: string[] }>(`SELECT k, ids::text[] AS ids FROM ${LISTS_TABLE}`)).rows;
      present = new Set(rows.flatMap((r) => r.ids.map((id) => `${r.k}/${id}`)));
    } finally {
      await c.end().catch(() => undefined);
    }
    const missing = required.filter((a) => !present.has(`${a.k}/${a.id}`)).map((a) => a.id);
    const youngerPresent = acked.filter((a) => a.e >= bound && present.has(`${a.k}/${a.id}`)).length;
    return { ok: missing.length === 0, required: required.length, missing, youngerPresent, restoreSeconds: (Date.now() - t0) / 1000, error: null };
  } catch (e) {
    return { ok: false, required: required.length, missing: [], youngerPresent: 0, restoreSeconds: (Date.now() - t0) / 1000, error: errorMessage(e).slice(0, 2000) };
  } finally {
    await ctl.stop('immediate', 30_000).catch(() => undefined);
    await ctl.close().catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  }
}
