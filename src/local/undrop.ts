// `ballast undrop` for local deployments: give back a table that was dropped, truncated or
// emptied on the live cluster, without stopping it.
// Steps: make the live primary archive its WAL now -> restore only the table's database from the
// newest backup into a scratch instance, paused where the backup is consistent -> walk forward
// to just before the commit that removed the table's files (found with pg_waldump), or to the
// --before time/xid -> end recovery there -> rename the table when its name is taken live (never
// overwrite) and drop foreign keys to tables missing live -> pg_dump it from the scratch instance
// and pg_restore it through HAProxy's read-write port -> remove the scratch instance.
import { mkdirSync, chownSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { SUPERUSER, type Secrets } from '../domain/config.js';
import { CommandFailedError, InvalidInputError, TimeoutError, errorMessage } from '../domain/errors.js';
import { parseLsn } from '../domain/lsn.js';
import { WAL_SEGMENT_BYTES } from '../domain/archive.js';
import { resolveRunIdentity, runCommand } from '../agent/run-as.js';
import { renderPassfile } from '../agent/pg-config.js';
import { newestBackup, backupBefore } from '../backup/backup-info.js';
import { readStanzaInfo } from '../backup/operations.js';
import { recoverToTarget, restoreDataDir, retarget } from '../backup/recover.js';
import { formatPgTime } from '../backup/restore-target.js';
import { chooseRestoredName, findDropCommit, parseWaldumpCommits, waldumpTimeToIso, type TableName, type WalCommit } from '../backup/undrop-plan.js';
import { localBackupSite } from './backup-site.js';
import { LOOPBACK, layoutOf } from './layout.js';
import { loadSecrets, OS_USER } from './prepare.js';
import { createScratch, type Scratch } from './scratch.js';
import { archiveNow, livePrimary } from './restore.js';
import type { DeploymentState } from './state.js';

const BIN = '/usr/lib/postgresql/15/bin';

export interface UndropOptions {
  state: DeploymentState;
  table: TableName;
  database: string;
  before: { kind: 'time'; ms: number } | { kind: 'xid'; xid: string } | null;
  as: string | null;
  progress: (line: string) => void;
}

export interface UndropResult {
  table: string;
  restoredAs: string;
  rows: number;
  droppedByXid: string | null;
  droppedAt: string | null;
  seconds: number;
  /** Backup the scratch instance was restored from. */
  backup: string;
  /** Foreign keys left out because they point at tables missing on the live cluster. */
  droppedConstraints: string[];
}

interface Live {
  primary: { name: string; host: string; port: number; timeline: number | null };
  dataDir: string;
}

async function requirePrimary(state: DeploymentState): Promise<Live> {
  const p = await livePrimary(state, 3000);
  if (!p) throw new CommandFailedError(`cluster ${state.cluster} has no healthy primary right now (or etcd does not answer); undrop copies the table back into the live cluster, so it needs one`);
  return { primary: { name: p.name, host: p.host, port: p.port, timeline: p.timeline }, dataDir: layoutOf(state.dir).memberData(p.name) };
}

/** A superuser connection to the live primary through HAProxy's read-write port. */
function liveClient(state: DeploymentState, secrets: Secrets, database: string): pg.Client {
  const port = state.routing?.rwPort;
  if (port === undefined) throw new CommandFailedError('this deployment has no routing (HAProxy read-write port)');
  const c = new pg.Client({ host: LOOPBACK, port, user: SUPERUSER, password: secrets.superuserPassword, database, connectionTimeoutMillis: 5000, application_name: 'ballast-undrop' });
  c.on('error', () => undefined);
  return c;
}

function scratchClient(s: Scratch, database: string): pg.Client {
  const c = new pg.Client({ host: s.runDir, port: s.port, user: SUPERUSER, database, connectionTimeoutMillis: 5000, application_name: 'ballast-undrop' });
  c.on('error', () => undefined);
  return c;
}

async function withClient<T>(c: pg.Client, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** File name of WAL segment number `seg` on timeline `tli`. */
function segmentName(tli: number, seg: bigint): string {
  const perLog = BigInt(0x100000000 / WAL_SEGMENT_BYTES);
  const hex = (v: bigint | number) => v.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(tli)}${hex(seg / perLog)}${hex(seg % perLog)}`;
}

/** Commit records between two LSNs on one timeline: from the primary's pg_wal, else fetched from the archive. */
async function scanCommits(s: Scratch, live: Live, tli: number, start: string, end: string, progress: (l: string) => void): Promise<WalCommit[]> {
  const identity = resolveRunIdentity(OS_USER);
  const dump = (path: string) => runCommand(join(BIN, 'pg_waldump'), [`--path=${path}`, `--timeline=${tli}`, `--start=${start}`, `--end=${end}`, '--rmgr=Transaction'], { identity, timeoutMs: 600_000 });
  try {
    return parseWaldumpCommits((await dump(join(live.dataDir, 'pg_wal'))).stdout);
  } catch (e) {
    if (!/could not find file|could not open file|no such file/i.test(errorMessage(e))) throw e;
  }
  const walDir = join(s.dir, 'wal');
  mkdirSync(walDir, { recursive: true, mode: 0o700 });
  if (identity) chownSync(walDir, identity.uid, identity.gid);
  const first = parseLsn(start) / BigInt(WAL_SEGMENT_BYTES);
  const last = parseLsn(end) / BigInt(WAL_SEGMENT_BYTES);
  progress(`undrop: fetching ${Number(last - first) + 1} WAL segments from the archive for pg_waldump`);
  for (let seg = first; seg <= last; seg++) {
    const name = segmentName(tli, seg);
    await s.pgb.run(['archive-get', name, join(walDir, name)], { timeoutMs: 120_000 });
  }
  return parseWaldumpCommits((await dump(walDir)).stdout);
}

/** Paused scratch instance: the table's relation files there (heap, TOAST, indexes), or null when it does not exist. */
async function relationFiles(s: Scratch, db: string, t: TableName): Promise<{ files: string[]; dbOid: string } | null> {
  return withClient(scratchClient(s, db), async (c) => {
    const r = await c.query<{ oid: string | null; dboid: string }>(
      'SELECT to_regclass(format($1::text, $2::text, $3::text))::oid::text AS oid, (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS dboid',
      ['%I.%I', t.schema, t.name]);
    const row = r.rows[0]!;
    if (row.oid === null) return null;
    const f = await c.query<{ path: string }>(`SELECT pg_relation_filepath(c.oid) AS path FROM pg_class c
      WHERE c.oid = $1::oid OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = $1::oid)
         OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = $1::oid)
         OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = (SELECT reltoastrelid FROM pg_class WHERE oid = $1::oid))`, [row.oid]);
    return { files: f.rows.map((x) => x.path).filter(Boolean), dbOid: row.dboid };
  });
}

async function pausedNow(s: Scratch): Promise<boolean> {
  return withClient(scratchClient(s, 'postgres'), async (c) =>
    (await c.query<{ p: string }>('SELECT pg_get_wal_replay_pause_state() AS p')).rows[0]?.p === 'paused').catch(() => false);
}

/** Restart the scratch instance with a new recovery target; it replays forward and pauses there. */
async function moveTo(s: Scratch, settings: Record<string, string>, progress: (l: string) => void): Promise<void> {
  await s.ctl.stop('fast', 60_000);
  await retarget(s.dataDir, { ...settings, recovery_target_action: 'pause' });
  await recoverToTarget(s.ctl, s.dataDir, progress, { paused: () => pausedNow(s), timeoutMs: 3600_000 });
}

/** End recovery of the paused scratch instance (it becomes writable). */
async function finishRecovery(s: Scratch): Promise<void> {
  await withClient(scratchClient(s, 'postgres'), (c) => c.query('SELECT pg_wal_replay_resume()'));
  const end = Date.now() + 120_000;
  while (await withClient(scratchClient(s, 'postgres'), async (c) => (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r === true)) {
    if (Date.now() > end) throw new TimeoutError('the scratch instance did not leave recovery within 120 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Walk forward from consistency to just before the commit that removed the table's files. */
async function findDrop(s: Scratch, live: Live, o: UndropOptions, backupStartLsn: string, endLsn: string): Promise<WalCommit> {
  const tli = live.primary.timeline ?? 1;
  const here = await relationFiles(s, o.database, o.table);
  const dbOid = here?.dbOid ?? (await withClient(scratchClient(s, o.database), async (c) => (await c.query<{ o: string }>('SELECT oid::text AS o FROM pg_database WHERE datname = current_database()')).rows[0]!.o));
  o.progress(`undrop: reading commit records from ${backupStartLsn} to ${endLsn} (pg_waldump)`);
  const commits = (await scanCommits(s, live, tli, backupStartLsn, endLsn, o.progress)).filter((c) => c.rels.some((r) => r.startsWith(`base/${dbOid}/`)));
  let files = here?.files ?? null;
  let from = 0;
  for (let guard = 0; guard < 50; guard++) {
    const rest = commits.slice(from);
    // Known files: jump to the commit that removes them. Unknown (the table is newer than the backup): the next candidate.
    const next = files ? findDropCommit(rest, files) : (rest[0] ?? null);
    if (!next) break;
    o.progress(`undrop: replaying to just before transaction ${next.xid} (${next.time}), which removed files of database ${o.database}`);
    await moveTo(s, { recovery_target_xid: next.xid, recovery_target_inclusive: 'false' }, o.progress);
    const now = await relationFiles(s, o.database, o.table);
    if (now && next.rels.some((r) => now.files.includes(r))) return next;
    files = now?.files ?? null;
    from = commits.indexOf(next) + 1;
  }
  throw new InvalidInputError(`found no commit after backup ${backupStartLsn} that dropped or truncated ${o.table.schema}.${o.table.name} on timeline ${tli}; if it was emptied by DELETE, or before the last failover, give --before TIME or --before-xid XID`);
}

export async function undropLocal(o: UndropOptions): Promise<UndropResult> {
  const t0 = Date.now();
  const secrets = loadSecrets(layoutOf(o.state.dir));
  const live = await requirePrimary(o.state);
  const display = `${o.table.schema}.${o.table.name}`;
  // Refuse early, before any restore: --as taken, or the schema gone live.
  const liveNames = await withClient(liveClient(o.state, secrets, o.database), async (c) => {
    const schema = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [o.table.schema]);
    if (schema.rows.length === 0) throw new InvalidInputError(`schema ${o.table.schema} does not exist in database ${o.database} on the live cluster; create it first`);
    const r = await c.query<{ relname: string }>("SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind IN ('r','p','v','m','f','S','i')", [o.table.schema]);
    return new Set(r.rows.map((x) => x.relname));
  });
  const restoredAs = chooseRestoredName(o.table, o.as, (n) => liveNames.has(n), Date.now());
  o.progress('undrop: making the primary archive its newest WAL');
  const end = await archiveNow(live.primary, secrets, o.progress);
  const site = localBackupSite(o.state, secrets);
  const info = await readStanzaInfo(await site.pgbackrest([live.primary.name]));
  const backup = o.before?.kind === 'time' ? backupBefore(info, o.before.ms) : newestBackup(info);
  if (!backup) throw new InvalidInputError(o.before?.kind === 'time' ? 'no backup ends before --before; nothing to restore from' : 'no backup exists yet (ballast backup run)');
  const s = await createScratch(o.state, secrets, 'undrop');
  try {
    o.progress(`undrop: restoring database ${o.database} from backup ${backup.id} into a scratch instance`);
    const target = o.before === null ? { kind: 'latest' as const } : o.before.kind === 'time' ? { kind: 'time' as const, time: '', ms: o.before.ms } : { kind: 'xid' as const, xid: o.before.xid };
    await restoreDataDir({ pgb: s.pgb, target, set: backup.id, dbInclude: [o.database], progress: o.progress, pauseAtConsistency: true });
    await recoverToTarget(s.ctl, s.dataDir, o.progress, { paused: () => pausedNow(s), timeoutMs: 3600_000 });
    let dropper: WalCommit | null = null;
    if (o.before === null) dropper = await findDrop(s, live, o, backup.startLsn, end);
    else if (o.before.kind === 'time') await moveTo(s, { recovery_target_time: formatPgTime(o.before.ms), recovery_target_inclusive: 'false' }, o.progress);
    else await moveTo(s, { recovery_target_xid: o.before.xid, recovery_target_inclusive: 'false' }, o.progress);
    if (!(await relationFiles(s, o.database, o.table))) {
      throw new InvalidInputError(`${display} did not exist in database ${o.database} at that point; check the name (and --before)`);
    }
    await finishRecovery(s);
    const droppedConstraints = await prepareTable(s, o, restoredAs, secrets);
    const rows = await copyBack(s, o, restoredAs, secrets);
    return {
      table: display, restoredAs: `${o.table.schema}.${restoredAs}`, rows,
      droppedByXid: dropper?.xid ?? (o.before?.kind === 'xid' ? o.before.xid : null),
      droppedAt: dropper ? waldumpTimeToIso(dropper.time) : null,
      seconds: (Date.now() - t0) / 1000, backup: backup.id, droppedConstraints,
    };
  } catch (e) {
    throw e instanceof InvalidInputError ? e : new CommandFailedError(`undrop of ${display} failed (the live cluster was not changed unless the table was already copied): ${errorMessage(e)}`, { cause: e });
  } finally {
    await s.remove();
  }
}

/**
 * In the scratch instance: rename the table (and its indexes and owned sequences) when it comes
 * back under another name; drop foreign keys whose referenced table is missing live.
 */
async function prepareTable(s: Scratch, o: UndropOptions, restoredAs: string, secrets: Secrets): Promise<string[]> {
  const fq = (name: string) => `${pg.escapeIdentifier(o.table.schema)}.${pg.escapeIdentifier(name)}`;
  return withClient(scratchClient(s, o.database), async (c) => {
    const fks = await c.query<{ conname: string; ref_schema: string; ref_name: string }>(
      `SELECT con.conname, n.nspname AS ref_schema, r.relname AS ref_name FROM pg_constraint con
         JOIN pg_class r ON r.oid = con.confrelid JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE con.contype = 'f' AND con.conrelid = to_regclass($1)`, [`${fq(o.table.name)}`]);
    const dropped: string[] = [];
    if (fks.rows.length > 0) {
      const missing = await withClient(liveClient(o.state, secrets, o.database), async (l) => {
        const out: string[] = [];
        for (const fk of fks.rows) {
          const r = await l.query<{ ok: string | null }>('SELECT to_regclass(format($1::text, $2::text, $3::text))::text AS ok', ['%I.%I', fk.ref_schema, fk.ref_name]);
          if (r.rows[0]?.ok == null) out.push(fk.conname);
        }
        return out;
      });
      for (const name of missing) {
        await c.query(`ALTER TABLE ${fq(o.table.name)} DROP CONSTRAINT ${pg.escapeIdentifier(name)}`);
        dropped.push(name);
      }
    }
    if (restoredAs !== o.table.name) {
      const suffix = restoredAs.slice(o.table.name.length) || '_restored';
      const deps = await c.query<{ name: string; kind: string }>(
        `SELECT i.relname AS name, 'INDEX' AS kind FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = to_regclass($1)
         UNION ALL
         SELECT s.relname, 'SEQUENCE' FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
          WHERE d.refobjid = to_regclass($1) AND d.classid = 'pg_class'::regclass AND s.relkind = 'S'`, [fq(o.table.name)]);
      for (const d of deps.rows) {
        const renamed = `${d.name.slice(0, 63 - suffix.length)}${suffix}`;
        await c.query(`ALTER ${d.kind} ${fq(d.name)} RENAME TO ${pg.escapeIdentifier(renamed)}`);
      }
      await c.query(`ALTER TABLE ${fq(o.table.name)} RENAME TO ${pg.escapeIdentifier(restoredAs)}`);
    }
    return dropped;
  });
}

/** pg_dump from the scratch instance, pg_restore (one transaction) through HAProxy's read-write port. */
async function copyBack(s: Scratch, o: UndropOptions, restoredAs: string, secrets: Secrets): Promise<number> {
  const identity = resolveRunIdentity(OS_USER);
  const file = join(s.dir, 'table.dump');
  const pattern = `${pg.escapeIdentifier(o.table.schema)}.${pg.escapeIdentifier(restoredAs)}`;
  o.progress(`undrop: copying ${o.table.schema}.${restoredAs} back into the live cluster`);
  await runCommand(join(BIN, 'pg_dump'), ['-h', s.runDir, '-p', String(s.port), '-U', SUPERUSER, '-d', o.database, '-Fc', '-t', pattern, '-f', file], { identity, timeoutMs: 3600_000, cwd: s.dir });
  const passfile = join(s.dir, 'live.pgpass');
  writeFileSync(passfile, renderPassfile([{ user: SUPERUSER, password: secrets.superuserPassword }]), { mode: 0o600 });
  try {
    await runCommand(join(BIN, 'pg_restore'), ['--single-transaction', '--exit-on-error', '-h', LOOPBACK, '-p', String(o.state.routing!.rwPort), '-U', SUPERUSER, '-d', o.database, file], {
      identity: null, timeoutMs: 3600_000, env: { PGPASSFILE: passfile, PGAPPNAME: 'ballast-undrop' }, redact: [secrets.superuserPassword], cwd: s.dir,
    });
  } finally {
    rmSync(passfile, { force: true });
  }
  return withClient(liveClient(o.state, secrets, o.database), async (c) => Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${pattern}`)).rows[0]!.n));
}
