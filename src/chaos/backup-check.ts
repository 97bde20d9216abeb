// Backups in a chaos run: every member archives into one pgBackRest repository (a directory on the
// machine's file system, DIR/backup: the namespaces share it; a backup host reached over
// pgBackRest's TLS server is future work), a first full backup is taken once the cluster is
// healthy, and after the run the archive is restored to its end into a scratch instance: every
// acknowledged write older than archive_timeout before the end must be in it.
import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { agentConfigSchema, APP_DATABASE, loadJsonFile, secretsSchema, SUPERUSER, type BackupConfig, type Secrets } from '../domain/config.js';
import { errorMessage } from '../domain/errors.js';
import { createLogger } from '../domain/log.js';
import { PostgresControl } from '../agent/postgres-control.js';
import { resolveRunIdentity } from '../agent/run-as.js';
import { createPgBackRest, type PgBackRest } from '../backup/pgbackrest.js';
import { recoverToTarget, restoreDataDir } from '../backup/recover.js';
import { DEFAULT_RETENTION, renderRepoConf } from '../backup/render-pgbackrest.js';
import { lookupOsUser } from '../local/os-user.js';
import { freePorts } from '../local/ports.js';
import { writeFileAtomic } from '../local/state.js';
import type { AckRecord } from './history.js';
import { LISTS_TABLE } from './workers.js';

function secretsOf(l: ChaosBackupLayout): Secrets {
  return loadJsonFile(secretsSchema, l.secretsFile, 'secrets file');
}

export const CHAOS_ARCHIVE_TIMEOUT_SEC = 10;
const OS_USER = 'postgres';

export interface ChaosBackupLayout {
  dir: string;
  repo: string;
  secretsFile: string;
  stanza: string;
  /** Data and socket directories of the members, by name. */
  members: { name: string; dataDir: string; runDir: string; port: number }[];
}

export function backupLayoutOf(dir: string, secretsFile: string, stanza: string, members: ChaosBackupLayout['members']): ChaosBackupLayout {
  return { dir: join(dir, 'backup'), repo: join(dir, 'backup', 'repo'), secretsFile, stanza, members };
}

/** The agents' `backup` section. */
export function chaosBackupConfig(l: ChaosBackupLayout): BackupConfig {
  return { stanza: l.stanza, repo: { kind: 'local', path: l.repo }, archiveTimeoutSec: CHAOS_ARCHIVE_TIMEOUT_SEC, pushQueueMax: '256MiB', processMax: 1 };
}

/** The repository directory (owned by postgres), made before the agents start. */
export function makeRepo(l: ChaosBackupLayout): void {
  const u = lookupOsUser(OS_USER);
  for (const d of [l.dir, l.repo, join(l.dir, 'log'), join(l.dir, 'lock')]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chownSync(d, u.uid, u.gid);
  }
}

/** Make the repository unreachable (and reachable again): the backup-repo-down fault. */
export function setRepoReachable(l: ChaosBackupLayout, reachable: boolean): void {
  chmodSync(l.repo, reachable ? 0o700 : 0o000);
}

function repoSide(l: ChaosBackupLayout, pgs: { dataDir: string; runDir: string; port: number }[], file: string): PgBackRest {
  const secrets = secretsOf(l);
  const identity = resolveRunIdentity(OS_USER);
  const path = join(l.dir, file);
  writeFileAtomic(path, renderRepoConf({
    stanza: l.stanza, repo: { kind: 'local', path: l.repo }, cipherPass: secrets.repoCipherPass!, logDir: join(l.dir, 'log'), lockDir: join(l.dir, 'lock'),
    processMax: 2, members: pgs.map((m) => ({ dataDir: m.dataDir, port: m.port, socketDir: m.runDir })), retention: DEFAULT_RETENTION,
  }), 0o600);
  if (identity) chownSync(path, identity.uid, identity.gid);
  return createPgBackRest({ stanza: l.stanza, configFile: path, identity, redact: [secrets.repoCipherPass!], cwd: l.dir });
}

/** stanza-create and a first full backup (from a standby), once the cluster is healthy. */
export async function setUpBackups(l: ChaosBackupLayout, log: (line: string) => void): Promise<void> {
  const pgb = repoSide(l, l.members, 'pgbackrest.conf');
  await pgb.run(['stanza-create'], { timeoutMs: 120_000 });
  const t0 = Date.now();
  await pgb.run(['backup', '--type=full'], { timeoutMs: 600_000 });
  log(`backups: stanza ${l.stanza} created, first full backup in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
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
