// `backup verify`: proves that the repository can bring the database back, with two checks.
// 1. pgbackrest verify: every backup file and WAL segment against its checksum. pgBackRest 2.45
//    exits 0 even when it reports invalid or missing files, so its text report is what counts;
//    a gap in the archived WAL of one timeline (two ranges in its report) is a problem too.
// 2. A restore test: the newest backup restored into a scratch instance (its own directory and
//    loopback port, never archiving: no `backup` section in its config), recovered to the end of
//    the archive and promoted, started, then checked with pg_amcheck (heap and B-tree,
//    --heapallindexed) or, when pg_amcheck cannot run, by reading every user table in full
//    (count(*)); the instance is stopped and its directory removed whatever happened.
// Steps: info (oldest and newest backup, newest archived WAL) -> verify -> scratch -> restore -> recover ->
// start -> check -> stop + remove. The result is one record (VerifyRecord); the caller stores it
// and appends the event. Collaborators come in as arguments; the parsers are pure.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { z } from 'zod';
import { SUPERUSER, type AgentConfig } from '../domain/config.js';
import { BallastError, InvalidInputError, errorMessage } from '../domain/errors.js';
import { parseLsn } from '../domain/lsn.js';
import type { ClusterEvent, MemberName } from '../domain/types.js';
import type { PostgresControl } from '../agent/postgres-control.js';
import { resolveRunIdentity, runCommand } from '../agent/run-as.js';
import { newestBackup, type StanzaInfo } from './backup-info.js';
import { readStanzaInfo, type BackupSite, type LastVerify } from './operations.js';
import type { PgBackRest } from './pgbackrest.js';
import { recoverToTarget, restoreDataDir } from './recover.js';

// ---- the record ----------------------------------------------------------------------------

const verifyRecordSchema = z.object({
  /** When the verification finished (ISO 8601 UTC). */
  verifiedAt: z.string(),
  ok: z.boolean(),
  /** The backup restored (the newest one); null when the repository holds none. */
  backup: z.string().nullable(),
  pgbackrestVerify: z.object({ ok: z.boolean(), detail: z.string() }),
  restore: z.object({
    ok: z.boolean(), seconds: z.number(), recoveredToLsn: z.string().nullable(), timeline: z.number().nullable(), detail: z.string(),
  }),
  /** method null: the check did not run (the restore failed). */
  amcheck: z.object({ ok: z.boolean(), method: z.enum(['pg_amcheck', 'row-count']).nullable(), detail: z.string() }),
  seconds: z.number(),
});
export type VerifyRecord = z.infer<typeof verifyRecordSchema>;
export type RestoreOutcome = VerifyRecord['restore'];
export type CheckOutcome = VerifyRecord['amcheck'];

/** File name of the stored last result, in the deployment's backup directory. */
export const LAST_VERIFY_FILE = 'last-verify.json';

/** The stored last result, or null when there is none; throws InvalidInputError when it is damaged. */
export async function readVerifyRecord(path: string): Promise<VerifyRecord | null> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw new InvalidInputError(`cannot read ${path}: ${e.message}`, { cause: e });
  });
  return text === null ? null : parseVerifyRecord(text);
}

/** Parse a stored record; throws InvalidInputError when it is damaged. */
export function parseVerifyRecord(text: string): VerifyRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InvalidInputError(`the last verify result is not JSON: ${errorMessage(e)}`, { cause: e });
  }
  const r = verifyRecordSchema.safeParse(raw);
  if (!r.success) throw new InvalidInputError(`the last verify result is damaged: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** The failing parts in one line, or null when everything passed. */
export function failureOf(r: VerifyRecord): string | null {
  const parts: string[] = [];
  if (!r.pgbackrestVerify.ok) parts.push(`pgbackrest verify: ${gist(r.pgbackrestVerify.detail)}`);
  if (!r.restore.ok) parts.push(`restore: ${gist(r.restore.detail)}`);
  if (!r.amcheck.ok && r.amcheck.method !== null) parts.push(`${r.amcheck.method}: ${gist(r.amcheck.detail)}`);
  return parts.length > 0 ? parts.join('; ') : null;
}

/** One line: `ok in 9.8 s: ...` or `FAILED in 9.8 s: <the failing parts>`. */
export function summaryOf(r: VerifyRecord): string {
  const failure = failureOf(r);
  const head = `${r.ok && failure === null ? 'ok' : 'FAILED'} in ${r.seconds.toFixed(1)} s`;
  if (failure !== null || !r.ok) return `${head}: ${failure ?? 'see the record'}`;
  return `${head}: repository checksums valid; backup ${r.backup} restored and recovered to ${r.restore.recoveredToLsn} (timeline ${r.restore.timeline}); ${r.amcheck.method} found no corruption`;
}

/** What `backup list` shows of it. */
export function lastVerifyOf(r: VerifyRecord): LastVerify {
  return { verifiedAt: r.verifiedAt, ok: r.ok, backup: r.backup, seconds: r.seconds, summary: summaryOf(r) };
}

export function verifyEventOf(r: VerifyRecord): ClusterEvent {
  const code = r.ok ? 'backup-verify-ok' : 'backup-verify-failed';
  return {
    at: Date.parse(r.verifiedAt),
    source: 'backup',
    level: r.ok ? 'info' : 'error',
    message: `backup verify ${summaryOf(r)} (code ${code})`,
  };
}

export function buildVerifyRecord(p: Omit<VerifyRecord, 'ok' | 'verifiedAt'> & { finishedMs: number }): VerifyRecord {
  const { finishedMs, ...rest } = p;
  return { verifiedAt: new Date(finishedMs).toISOString(), ok: p.pgbackrestVerify.ok && p.restore.ok && p.amcheck.ok, ...rest };
}

// ---- pgbackrest verify's report ------------------------------------------------------------

export interface WalRange {
  archiveId: string;
  start: string;
  stop: string;
}

export interface VerifyReport {
  /** `status:` of the report (ok | error); null when there was no report. */
  status: string | null;
  walChecked: number;
  backupsChecked: number;
  filesChecked: number;
  /** Invalid or missing files, warnings and errors, report lines that are not counts. */
  problems: string[];
  walRanges: WalRange[];
}

/** `2026-12-07 20:54:44.014 P02   INFO: message` */
const LOG_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} P\d+\s+([A-Z]+): (.*)$/;
const WAL_RANGE = /^archiveId: (\S+), wal start: ([0-9A-F]{24}), wal stop: ([0-9A-F]{24})$/;
const ARCHIVE_LINE = /^\s+archiveId: (\S+), total WAL checked: (\d+), total valid WAL: (\d+)/;
const BACKUP_LINE = /^\s+backup: (\S+), status: ([^,]+), total files checked: (\d+), total valid files: (\d+)/;
const COUNTS_LINE = /^\s+((?:[a-z ]+: \d+(?:, )?)+)$/;

/**
 * Parse the output of `pgbackrest verify --output=text --verbose --log-level-console=detail`:
 * log lines (problem files at INFO, WAL ranges at DETAIL) and the report after them.
 */
export function parseVerifyOutput(text: string): VerifyReport {
  const r: VerifyReport = { status: null, walChecked: 0, backupsChecked: 0, filesChecked: 0, problems: [], walRanges: [] };
  let subject: string | null = null; // the report entry a counts line belongs to
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const log = LOG_LINE.exec(line);
    if (log) {
      const level = log[1]!;
      const msg = log[2]!;
      const range = WAL_RANGE.exec(msg);
      if (range) r.walRanges.push({ archiveId: range[1]!, start: range[2]!, stop: range[3]! });
      else if (/^(verify command (begin|end)|stanza: )/.test(msg) || level === 'DETAIL' || level === 'DEBUG') continue;
      else r.problems.push(level === 'INFO' ? msg : `${level}: ${msg}`);
      continue;
    }
    if (/^ {20,}/.test(line)) continue; // continuation of a multi-line log message (the report, logged)
    const status = /^status: (\S+)/.exec(line);
    if (status) {
      r.status = status[1]!;
      continue;
    }
    if (/^stanza: /.test(line)) continue;
    const archive = ARCHIVE_LINE.exec(line);
    if (archive) {
      r.walChecked += Number(archive[2]);
      subject = Number(archive[2]) === Number(archive[3]) ? null : `WAL ${archive[1]}: ${Number(archive[2]) - Number(archive[3])} of ${archive[2]} segments bad`;
      continue;
    }
    const backup = BACKUP_LINE.exec(line);
    if (backup) {
      r.backupsChecked += 1;
      r.filesChecked += Number(backup[3]);
      const bad = Number(backup[3]) - Number(backup[4]);
      subject = backup[2] === 'valid' && bad === 0 ? null : `backup ${backup[1]}: ${backup[2]}, ${bad} of ${backup[3]} files bad`;
      continue;
    }
    const counts = COUNTS_LINE.exec(line);
    if (counts) {
      const nonzero = counts[1]!.split(', ').filter((kv) => !/: 0$/.test(kv));
      if (subject !== null) r.problems.push(nonzero.length > 0 ? `${subject} (${nonzero.join(', ')})` : subject);
      subject = null;
      continue;
    }
    if (subject !== null) r.problems.push(subject);
    subject = null;
    r.problems.push(line.trim());
  }
  if (subject !== null) r.problems.push(subject);
  return r;
}

/**
 * Gaps inside one timeline of one archive: WAL that a restore across them cannot replay. Gaps
 * that end at or before `fromSegment` (the oldest backup's first WAL segment) do not matter: no
 * restore starts before that backup, and pgBackRest's expire may leave such holes behind.
 */
export function walGaps(ranges: WalRange[], fromSegment: string | null = null): string[] {
  const gaps: string[] = [];
  const sorted = [...ranges].sort((a, b) => a.archiveId.localeCompare(b.archiveId) || a.start.localeCompare(b.start));
  for (let k = 1; k < sorted.length; k++) {
    const prev = sorted[k - 1]!;
    const cur = sorted[k]!;
    if (prev.archiveId !== cur.archiveId || prev.stop.slice(0, 8) !== cur.start.slice(0, 8)) continue;
    if (fromSegment !== null && cur.start.slice(8) <= fromSegment.slice(8)) continue;
    gaps.push(`WAL ${cur.archiveId}: the segments between ${prev.stop} and ${cur.start} are missing from the archive (no restore can replay across them)`);
  }
  return gaps;
}

/** The pgbackrest verify check: ok when the report says ok and lists no problem and no gap. */
export function judgeVerify(report: VerifyReport, fromSegment: string | null = null): { ok: boolean; detail: string } {
  const problems = [...report.problems, ...walGaps(report.walRanges, fromSegment)];
  if (report.status === null) return { ok: false, detail: problems.length > 0 ? listOf(problems) : 'pgbackrest verify printed no report' };
  if (report.status === 'ok' && problems.length === 0) {
    return { ok: true, detail: `${plural(report.walChecked, 'WAL segment')} and ${plural(report.backupsChecked, 'backup')} (${plural(report.filesChecked, 'file')}) checked: all valid` };
  }
  const head = report.status === 'ok' ? "pgBackRest's report is ok, but" : `status ${report.status}:`;
  return { ok: false, detail: `${head} ${problems.length > 0 ? listOf(problems) : 'no detail given'}` };
}

// ---- pg_amcheck ----------------------------------------------------------------------------

export interface ToolRun {
  /** Exit status; null when it did not start, timed out or died of a signal. */
  exit: number | null;
  /** Output lines, stdout and stderr interleaved. */
  lines: string[];
}

const CORRUPT_HEADER = /^(heap table|btree index) "([^"]+)"/;

/**
 * pg_amcheck exits 0 when every check passed, 2 when it reported corruption (on stdout, one
 * `heap table "db.schema.rel"...:` or `btree index "...":` header per finding) and 1 when it
 * could not do its job (connection, extension, ...), which is not a verdict on the data.
 */
export function judgeAmcheck(run: ToolRun): { verdict: 'ok' | 'corrupt' | 'unavailable'; detail: string } {
  const headers = run.lines.map((l) => CORRUPT_HEADER.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  if (headers.length > 0 || run.exit === 2) {
    const relations = [...new Set(headers.map((m) => `${m[1]} ${m[2]}`))];
    const first = run.lines.slice(0, 6).map((l) => l.trim()).join(' | ');
    const where = relations.length > 0 ? `corruption in ${plural(relations.length, 'relation')}: ${listOf(relations)}` : `pg_amcheck reported corruption (exit ${run.exit})`;
    return { verdict: 'corrupt', detail: `${where}${first ? `; output: ${first}` : ''}` };
  }
  if (run.exit === 0) return { verdict: 'ok', detail: 'no corruption in any heap table or B-tree index of any database (--heapallindexed)' };
  const why = run.lines.slice(-3).map((l) => l.trim()).join(' | ') || 'no output';
  return { verdict: 'unavailable', detail: `pg_amcheck could not run${run.exit === null ? '' : ` (exit ${run.exit})`}: ${why}` };
}

/** The exit status in a runCommand error ("tool failed (exit 2): ..."), or null. */
export function exitStatusOf(message: string): number | null {
  const m = /failed \(exit (\d+)\)/.exec(message);
  return m ? Number(m[1]) : null;
}

// ---- recovery reached the end of the archive ------------------------------------------------

const SEGMENT_BYTES = 16n * 1024n * 1024n;

/**
 * Recovery to "latest" stops quietly at the first segment the archive lacks, so a restore that
 * ends before the newest archived segment means missing WAL. Null when it got there.
 */
export function recoveryShortfall(recoveredLsn: string | null, archiveMax: string | null, segmentBytes = SEGMENT_BYTES): string | null {
  if (recoveredLsn === null || archiveMax === null || !/^[0-9A-F]{24}$/.test(archiveMax)) return null;
  const perLogId = 0x100000000n / segmentBytes;
  const newest = BigInt(`0x${archiveMax.slice(8, 16)}`) * perLogId + BigInt(`0x${archiveMax.slice(16, 24)}`);
  const reached = parseLsn(recoveredLsn) / segmentBytes;
  if (reached >= newest) return null;
  return `recovery stopped at ${recoveredLsn}, before the newest archived WAL segment ${archiveMax}: WAL in between is missing or unreadable`;
}

// ---- the scratch instance ------------------------------------------------------------------

/** What the restore test needs of a scratch instance (src/local/scratch.ts makes one locally). */
export interface ScratchInstance {
  dir: string;
  runDir: string;
  dataDir: string;
  port: number;
  /** Its agent config: no `backup` section, so it never archives into the repository. */
  config: Pick<AgentConfig, 'pgBinDir' | 'osUser' | 'backup'>;
  ctl: PostgresControl;
  /** pgBackRest reading the repository, restoring into this instance's data directory. */
  pgb: PgBackRest;
  /** Stop postgres and remove the directory. */
  remove(): Promise<void>;
}

// ---- the operation -------------------------------------------------------------------------

export interface VerifyInput {
  site: BackupSite;
  members: MemberName[];
  createScratch: () => Promise<ScratchInstance>;
  progress: (line: string) => void;
  now?: () => number;
  /** Aborting stops between steps (the scratch instance is still removed) and throws. */
  signal?: AbortSignal;
}

const LONG = 24 * 3600_000;

export async function verifyBackups(i: VerifyInput): Promise<VerifyRecord> {
  const now = i.now ?? Date.now;
  const t0 = now();
  const pgb = await i.site.pgbackrest(i.members);
  let info: StanzaInfo | null = null;
  let infoError = '';
  try {
    info = await readStanzaInfo(pgb);
  } catch (e) {
    infoError = errorMessage(e);
  }
  const oldest = info?.backups.find((b) => !b.error) ?? null;
  i.progress('verify: pgbackrest verify: checking every backup file and WAL segment in the repository');
  const pv = await pgbackrestVerify(pgb, oldest?.walStart ?? null);
  i.progress(`verify: pgbackrest verify ${pv.ok ? 'ok' : 'FAILED'}: ${oneLine(pv.detail)}`);
  i.signal?.throwIfAborted();
  const newest = info ? newestBackup(info) : null;
  let restore: RestoreOutcome;
  let check: CheckOutcome;
  if (newest === null) {
    restore = { ok: false, seconds: 0, recoveredToLsn: null, timeline: null, detail: infoError || 'the repository holds no backup to restore (ballast backup run)' };
    check = { ok: false, method: null, detail: 'not run: nothing was restored' };
  } else {
    ({ restore, check } = await restoreTest(i, newest.id, info?.archiveMax ?? null, now));
  }
  return buildVerifyRecord({ finishedMs: now(), backup: newest?.id ?? null, pgbackrestVerify: pv, restore, amcheck: check, seconds: (now() - t0) / 1000 });
}

async function pgbackrestVerify(pgb: PgBackRest, fromSegment: string | null): Promise<{ ok: boolean; detail: string }> {
  try {
    const r = await pgb.run(['verify', '--output=text', '--verbose', '--log-level-console=detail'], { timeoutMs: LONG });
    return judgeVerify(parseVerifyOutput(`${r.stdout}\n${r.stderr}`), fromSegment);
  } catch (e) {
    return { ok: false, detail: errorMessage(e) };
  }
}

async function restoreTest(i: VerifyInput, set: string, archiveMax: string | null, now: () => number): Promise<{ restore: RestoreOutcome; check: CheckOutcome }> {
  const t0 = now();
  let restore: RestoreOutcome | null = null;
  let check: CheckOutcome = { ok: false, method: null, detail: 'not run: the restore failed' };
  let scratch: ScratchInstance | null = null;
  try {
    scratch = await i.createScratch();
    if (scratch.config.backup) throw new BallastError('INTERNAL', 'the scratch instance would archive into the repository (its config has a backup section)');
    i.progress(`verify: restoring backup ${set} into ${scratch.dir} (port ${scratch.port}), recovering to the end of the archive`);
    await restoreDataDir({ pgb: scratch.pgb, target: { kind: 'latest' }, set, progress: i.progress });
    i.signal?.throwIfAborted();
    const r = await recoverToTarget(scratch.ctl, scratch.dataDir, i.progress);
    const short = recoveryShortfall(r.lsn, archiveMax);
    const seconds = (now() - t0) / 1000;
    restore = {
      ok: short === null, seconds, recoveredToLsn: r.lsn, timeline: r.timeline,
      detail: short ?? `backup ${set} restored and recovered to ${r.lsn} (the archive ends with ${archiveMax ?? '?'}), promoted to timeline ${r.timeline} in ${seconds.toFixed(1)} s`,
    };
    i.signal?.throwIfAborted();
    i.progress('verify: starting the restored instance to check it');
    await scratch.ctl.start(300_000);
    check = await checkRestored(scratch, i.progress);
  } catch (e) {
    if (i.signal?.aborted) throw e;
    if (restore === null) restore = { ok: false, seconds: (now() - t0) / 1000, recoveredToLsn: null, timeline: null, detail: errorMessage(e) };
    else check = { ok: false, method: check.method ?? 'pg_amcheck', detail: `the restored instance could not be checked: ${errorMessage(e)}` };
  } finally {
    if (scratch) i.progress(await dispose(scratch));
  }
  return { restore, check };
}

/** Stop the scratch postgres (by its own data directory), then remove the directory unless it still runs. */
async function dispose(s: ScratchInstance): Promise<string> {
  await s.ctl.stop('immediate', 30_000).catch(() => undefined);
  const pid = await s.ctl.postmasterPid().catch(() => null);
  if (pid !== null) {
    await s.ctl.close().catch(() => undefined);
    return `verify: the scratch postgres (pid ${pid}) did not stop; ${s.dir} is left in place (pg_ctl stop -D ${s.dataDir}, then remove it)`;
  }
  await s.remove().catch(() => undefined);
  return existsSync(s.dir) ? `verify: ${s.dir} could not be removed; remove it by hand` : `verify: scratch instance stopped and ${s.dir} removed`;
}

async function checkRestored(s: ScratchInstance, progress: (l: string) => void): Promise<CheckOutcome> {
  progress('verify: pg_amcheck --all --heapallindexed on the restored instance');
  const v = judgeAmcheck(await runPgAmcheck(s));
  if (v.verdict !== 'unavailable') return { ok: v.verdict === 'ok', method: 'pg_amcheck', detail: v.detail };
  progress(`verify: ${v.detail}; reading every user table in full instead (count(*))`);
  const rc = await countRows(s);
  return { ok: rc.ok, method: 'row-count', detail: `${rc.detail} (${v.detail})` };
}

async function runPgAmcheck(s: ScratchInstance): Promise<ToolRun> {
  const lines: string[] = [];
  const args = ['--all', '--install-missing', '--heapallindexed', '-h', s.runDir, '-p', String(s.port), '-U', SUPERUSER, '-w'];
  try {
    await runCommand(join(s.config.pgBinDir, 'pg_amcheck'), args, {
      identity: resolveRunIdentity(s.config.osUser), timeoutMs: LONG, cwd: s.runDir, onLine: (l) => {
        if (lines.length < 2000) lines.push(l);
      },
    });
    return { exit: 0, lines };
  } catch (e) {
    return { exit: exitStatusOf(errorMessage(e)), lines: lines.length > 0 ? lines : [errorMessage(e)] };
  }
}

/** Read every user table of every database in full (sequential scans only); unreadable ones fail. */
async function countRows(s: ScratchInstance): Promise<{ ok: boolean; detail: string }> {
  const connect = async (database: string): Promise<pg.Client> => {
    const c = new pg.Client({ host: s.runDir, port: s.port, user: SUPERUSER, database, connectionTimeoutMillis: 5000, application_name: 'ballast-verify' });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  const main = await connect('postgres');
  let dbs: string[];
  try {
    dbs = (await main.query<{ d: string }>('SELECT datname AS d FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1')).rows.map((r) => r.d);
  } finally {
    await main.end().catch(() => undefined);
  }
  let tables = 0;
  let rows = 0n;
  const bad: string[] = [];
  for (const db of dbs) {
    const c = await connect(db);
    try {
      await c.query('SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off');
      const rels = (await c.query<{ t: string }>(
        "SELECT c.oid::regclass::text AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') " +
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' ORDER BY 1",
      )).rows.map((r) => r.t);
      for (const t of rels) {
        tables += 1;
        try {
          rows += BigInt((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`)).rows[0]?.n ?? '0');
        } catch (e) {
          bad.push(`${db}.${t}: ${errorMessage(e)}`);
        }
      }
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  if (bad.length > 0) return { ok: false, detail: `${bad.length} of ${tables} user tables unreadable: ${listOf(bad)}` };
  return { ok: true, detail: `${tables} user tables in ${dbs.length} databases read in full, ${rows} rows` };
}

// ---- helpers -------------------------------------------------------------------------------

function oneLine(s: string): string {
  return s.split('\n')[0] ?? '';
}

/** The first line of a detail, plus the last FATAL/ERROR line of a postgres log tail below it. */
export function gist(detail: string): string {
  const lines = detail.split('\n');
  const first = lines[0] ?? '';
  const fatal = lines.slice(1).reverse()
    .filter((l) => !/not yet accepting connections|is starting up|is shutting down/.test(l)) // a client's, not the cause
    .map((l) => /\b(FATAL|PANIC|ERROR):\s+(.*)$/.exec(l)).find((m) => m !== null);
  return fatal ? `${first.replace(/:\s*$/, '')}: ${fatal[1]}: ${fatal[2]}` : first;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function listOf(items: string[], max = 8): string {
  return items.length <= max ? items.join('; ') : `${items.slice(0, max).join('; ')}; and ${items.length - max} more`;
}
