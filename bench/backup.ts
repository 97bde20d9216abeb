// Backup benchmark (a program, not a test): ONE local 2-member cluster holding a pgbench database
// of scale N (70 is about 1 GB); Ballast against raw pgBackRest and pg_basebackup, like for like:
//   1. full backups, --trials T of each in ABBA order (ballast, raw, raw, ballast, ballast, raw
//      ...), each after settle(): `ballast backup run --type full` and raw pgBackRest = the
//      backup command Ballast's `backup run` issues (src/backup/operations.ts runBackup: `pgbackrest
//      --config=DIR/backup/pgbackrest.conf --stanza=S backup --type=full
//      --annotation=ballast-member=M --log-level-console=info`, here M = raw-bench) with the SAME
//      file, stanza and repository, archive check included, and pgBackRest's automatic expire
//      inside it (Ballast runs --no-expire-auto and its own expire beside the `info` that reads
//      the new backup; its total includes both). Before each raw run the file must name the hosts Ballast's backup used (the
//      primary and the standby it read from). Every trial, the medians and their ratio;
//   2. right after them, before any update (little WAL to replay): the newest set's label from
//      `ballast backup list --json`, then `ballast restore --latest --members 1` into a new dir
//      (the set it restored must be that one): its phases (from its progress lines on stderr,
//      timestamped as they arrive); the restored cluster is stopped (ballast down) and removed.
//      Around it, mirrored (raw, basebackup, | ballast |, basebackup, raw; T of each, at least
//      2): raw `pgbackrest restore --set=LABEL --archive-mode=off --log-level-console=info` with
//      the same file into an empty dir (--pg1-path=...; what Ballast's restore runs), timed, then
//      removed; and `pg_basebackup -X stream -c fast` from the primary over its Unix socket (peer
//      auth as the postgres OS user; a consistent data dir). Compared: the files phase with the
//      median raw restore; up to a promoted primary (prepare + files + recovery) and the files
//      phase with the median pg_basebackup;
//   3. UPDATE of 5 % of pgbench_accounts, then `backup run --type incr`: time (based on the newest
//      full, which the expire of the full trials kept);
//   4. another 5 % UPDATE (its WAL measured with pg_current_wal_lsn), then `ballast restore
//      --latest --members 1` (full + incr + that WAL): total, phases and the WAL replay rate = WAL
//      from the incr backup's start LSN to the end of the update / the recovery phase (postgres
//      start to promotion, archive-get of every segment included); raw restores of the same set
//      around it as in 2 (their files phase compared);
//   5. re-clone: the agent's clone command (restore --delta --type=standby --set=newest) into a
//      dir holding a restore of the full set (timed), then the same again (every file matches);
//      against the pg_basebackup median;
//   6. undrop: a copy table (10 % of the accounts) plus an index, an incr backup, DROP TABLE, then
//      `ballast undrop`: time end to end (goal <= 60 s for a table in a 1 GB database).
// Prints a table of figures and the ratios Ballast / raw pgBackRest (goal <= 1.1) and
// pg_basebackup / Ballast restore up to a promoted primary (goal > 1: Ballast's restore gives a
// usable data dir faster).
//
// "Settle" waits until no member has a WAL segment waiting for its archive_command (the primary's
// push, the standby's check) and the standby has replayed everything, so no timed step pays for
// the archive backlog the bench's own writes or the step before left (each wait is printed). The
// scheduled backups are moved to 1 January for the run so none starts meanwhile. The raw full
// backups stay in the repository; the restores name their set explicitly.
// Usage: node dist/bench/backup.js [--scale N] [--trials T] [--dir-base DIR] [--json]
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { resolveRunIdentity, runCommand, type OsIdentity } from '../src/agent/run-as.js';
import { restoreCloneArgs } from '../src/agent/clone-plan.js';
import { SUPERUSER } from '../src/domain/config.js';
import { lsnDiff } from '../src/domain/lsn.js';
import { layoutOf } from '../src/local/layout.js';
import { BALLAST_BIN, TestCluster, type UpInfo } from '../src/testkit/cluster.js';
import { pgbenchInit } from '../src/testkit/pgbench.js';
import { note } from './bench-common.js';

const USAGE = 'usage: node dist/bench/backup.js [--scale N] [--trials T] [--dir-base DIR] [--json]';
const PG_BIN = '/usr/lib/postgresql/15/bin';
const PGBACKREST_BIN = process.env.BALLAST_PGBACKREST_BIN ?? '/usr/bin/pgbackrest';
const OS_USER = 'postgres';
const MIB = 1024 * 1024;
const NEVER = '0 0 1 1 *'; // the scheduled backups wait for 1 January during the run
/** The annotation of the raw full backups (Ballast's own names the member it read from). */
const RAW_MEMBER = 'raw-bench';

interface Args { scale: number; trials: number; dirBase: string; json: boolean }

function parseBenchArgs(argv: string[]): Args {
  const { values } = parseArgs({ args: argv, options: { scale: { type: 'string' }, trials: { type: 'string' }, 'dir-base': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } }, strict: true });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const scale = values.scale === undefined ? 70 : Number(values.scale);
  if (!Number.isInteger(scale) || scale < 1 || scale > 1000) throw new Error(`--scale must be a whole number from 1 to 1000 (got ${values.scale})`);
  const trials = values.trials === undefined ? 3 : Number(values.trials);
  if (!Number.isInteger(trials) || trials < 1 || trials > 10) throw new Error(`--trials must be a whole number from 1 to 10 (got ${values.trials})`);
  const dirBase = resolve(values['dir-base'] ?? '/tmp');
  if (!existsSync(dirBase)) throw new Error(`--dir-base ${dirBase} does not exist`);
  return { scale, trials, dirBase, json: values.json === true };
}

/** Time limits grow with the database: `base` seconds plus `perScale` seconds per pgbench scale unit. */
function budget(scale: number, baseS: number, perScaleS: number): number {
  return (baseS + perScaleS * scale) * 1000;
}

// ---- pure helpers ---------------------------------------------------------------------------

type Runner = 'ballast' | 'raw';

/** ABBA order of the full-backup trials: ballast, raw, raw, ballast, ballast, raw ... (n of each). */
function abbaOrder(n: number): Runner[] {
  return Array.from({ length: n }, (_, i): Runner[] => (i % 2 === 0 ? ['ballast', 'raw'] : ['raw', 'ballast'])).flat();
}

/**
 * Baseline trials around ONE Ballast run, mirrored so neither side always runs on a warm cache:
 * ceil(n/2) rounds before, the rest (at least one) after, e.g. n = 3 and [raw, bb]: raw bb bb raw
 * | ballast | raw bb. Each kind runs max(n, 2) times.
 */
function aroundOrder<K>(kinds: K[], n: number): { before: K[]; after: K[] } {
  const nBefore = Math.ceil(n / 2);
  const nAfter = Math.max(1, n - nBefore);
  const round = (i: number) => (i % 2 === 0 ? [...kinds] : [...kinds].reverse());
  return {
    before: Array.from({ length: nBefore }, (_, i) => round(i)).flat(),
    after: Array.from({ length: nAfter }, (_, j) => round(nBefore - 1 - j).reverse()).flat(),
  };
}

/** Median of the known values (null: none). */
function median(xs: (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

interface RepoConfFacts { stanza: string; pgPaths: string[]; retention: string | null }

/** What the raw runs take from the repository-side pgbackrest.conf: its stanza, pg hosts (sorted) and full retention. */
function repoConfFacts(text: string): RepoConfFacts {
  const stanza = [...text.matchAll(/^\[([^\]\n]+)\]$/gm)].map((m) => m[1]!).find((n) => n !== 'global');
  if (stanza === undefined) throw new Error('the repository-side pgbackrest.conf names no stanza');
  const pgPaths = [...text.matchAll(/^pg\d+-path=(.*)$/gm)].map((m) => m[1]!).sort();
  const full = /^repo1-retention-full=(.*)$/m.exec(text)?.[1];
  const type = /^repo1-retention-full-type=(.*)$/m.exec(text)?.[1] ?? 'count';
  return { stanza, pgPaths, retention: full === undefined ? null : `${full} (${type})` };
}

interface Line { atMs: number; text: string }

/** ms from the start of a command to its first progress line matching `re` (null: none). */
function lineAt(lines: Line[], re: RegExp): number | null {
  return lines.find((l) => re.test(l.text))?.atMs ?? null;
}

interface RestorePhases { prepare: number | null; files: number | null; recovery: number | null; startCluster: number | null; firstBackup: number | null }

/** Phases of `ballast restore` from its progress lines (see src/local/restore.ts and recover.ts). */
function restorePhases(lines: Line[], totalMs: number): RestorePhases {
  const files = lineAt(lines, /^restore: pg\d+ from backup /);
  const recovery = lineAt(lines, /^recovery: starting postgres/);
  const promoted = lineAt(lines, /^recovery: reached the target/);
  const start = lineAt(lines, /^restore: starting the restored cluster/);
  const backups = lineAt(lines, /^backups: creating the pgBackRest stanza/);
  const d = (a: number | null, b: number | null) => (a === null || b === null ? null : b - a);
  return { prepare: files, files: d(files, recovery), recovery: d(recovery, promoted), startCluster: d(promoted, backups ?? start), firstBackup: d(backups, totalMs) };
}

/** The set `ballast restore` restored, from its progress line (null: not found). */
function restoredSet(lines: Line[]): string | null {
  for (const l of lines) {
    const m = /^restore: \S+ from backup (\S+) of /.exec(l.text);
    if (m) return m[1]!;
  }
  return null;
}

/** Up to a promoted primary: prepare + files + recovery (null when a phase is missing). */
function upToPromotion(p: RestorePhases): number | null {
  return p.prepare === null || p.files === null || p.recovery === null ? null : p.prepare + p.files + p.recovery;
}

const s = (ms: number | null | undefined) => (ms === null || ms === undefined ? '-' : (ms / 1000).toFixed(1));
const mib = (b: number | null | undefined) => (b === null || b === undefined ? '-' : (b / MIB).toFixed(1));
const rate = (bytes: number | null | undefined, ms: number | null | undefined) => (bytes == null || !ms ? null : bytes / MIB / (ms / 1000));
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null || b === 0 ? null : a / b);
const f2 = (x: number | null) => (x === null ? '-' : x.toFixed(2));
/** Trial times in run order, e.g. "10.1 10.6 10.3". */
const each = (ms: (number | null)[]) => (ms.length === 0 ? '-' : ms.map(s).join(' '));
/** Restore trials split around the Ballast restore, e.g. "3.4 3.5 | 3.6". */
const around = (t: RestoreTrial[]) => `${each(t.filter((x) => x.when === 'before').map((x) => x.ms))} | ${each(t.filter((x) => x.when === 'after').map((x) => x.ms))}`;

function table(head: string[], rows: string[][]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const last = head.length - 1;
  const line = (r: string[]) => r.map((c, i) => (i === 0 || i === last ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)];
}

// ---- effects ------------------------------------------------------------------------------

interface Timed { ms: number; stdout: string; lines: Line[] }

/** ballast CLI children running now (stopped by pid on SIGINT/SIGTERM before the cleanup). */
const running = new Set<ChildProcess>();

async function stopRunning(): Promise<void> {
  await Promise.all([...running].map((c) => new Promise<void>((res) => {
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      res();
    }, 15_000);
    c.once('close', () => {
      clearTimeout(t);
      res();
    });
    c.kill('SIGTERM');
  })));
}

/** Run the ballast CLI; its progress lines (stderr) are timestamped and echoed; rejects on exit != 0 or timeout. */
function runBallast(args: string[], timeoutMs: number): Promise<Timed> {
  const t0 = performance.now();
  const tag = args.slice(0, args[0] === 'backup' ? 2 : 1).join(' ');
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [BALLAST_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const out: Buffer[] = [];
    const lines: Line[] = [];
    let partial = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      const parts = (partial + b.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const p of parts) {
        if (p.trim() === '') continue;
        const atMs = performance.now() - t0;
        lines.push({ atMs, text: p });
        note(`  [${tag} +${s(atMs)} s] ${p}`);
      }
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM'); // our own child, by its pid
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      running.delete(child);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      const ms = performance.now() - t0;
      if (partial.trim() !== '') lines.push({ atMs: ms, text: partial });
      const stdout = Buffer.concat(out).toString('utf8');
      const detail = lines.slice(-8).map((l) => l.text).join('\n');
      if (timedOut) reject(new Error(`ballast ${args.join(' ')} did not finish within ${timeoutMs / 1000} s:\n${detail}`));
      else if (code !== 0) reject(new Error(`ballast ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${detail}\n${stdout.slice(-1000)}`));
      else resolveRun({ ms, stdout, lines });
    });
  });
}

/** A directory owned by the postgres OS user (when we are root), mode 0700. */
function ownedDir(path: string, id: OsIdentity | null): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  if (id) chownSync(path, id.uid, id.gid);
  return path;
}

/** Run a program as the postgres OS user; its output lines are timestamped (not echoed). */
async function runAsPostgres(bin: string, args: string[], timeoutMs: number, cwd: string, id: OsIdentity | null): Promise<{ ms: number; lines: Line[] }> {
  const t0 = performance.now();
  const lines: Line[] = [];
  await runCommand(bin, args, { identity: id, timeoutMs, cwd, onLine: (text) => lines.push({ atMs: performance.now() - t0, text }) });
  return { ms: performance.now() - t0, lines };
}

/** Stop a postgres left running in `dataDir` (e.g. an undrop scratch instance after a timeout): pg_ctl, immediate. */
async function stopStrayPostgres(dataDir: string, id: OsIdentity | null): Promise<void> {
  if (!existsSync(join(dataDir, 'postmaster.pid'))) return;
  note(`stopping the postgres left running in ${dataDir}`);
  await runCommand(join(PG_BIN, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30'], { identity: id, timeoutMs: 40_000 }).catch((e: unknown) => note(`  pg_ctl stop failed: ${(e as Error).message}`));
}

interface BackupJson { id: string; type: string; member: string | null; startLsn: string; stopLsn: string; sizeBytes: number; repoSizeBytes?: number; prior?: string | null }

interface BallastBackup { ms: number; settleMs: number; pgbackrestMs: number | null; b: BackupJson }
/** One full-backup trial; `order` is its place in the ABBA sequence (1-based). */
interface FullTrial { order: number; ms: number; settleMs: number; pgbackrestMs: number | null; id: string; member: string | null }
/** `backupMs`: from the start of the command to its "full backup size" line (what pgbackrestMs is for Ballast's). */
interface RawFullTrial { order: number; ms: number; settleMs: number; backupMs: number | null; label: string | null }
interface RestoreTrial { when: 'before' | 'after'; ms: number; settleMs: number }
/** Baseline restores of one set around a Ballast restore; ms: their median. */
interface RestoreTrials { set: string; ms: number | null; trials: RestoreTrial[] }
interface BallastRestore { ms: number; settleMs: number; set: string; phases: RestorePhases; upToPromotionMs: number | null; checked: string }

interface Figures {
  dbBytes: number | null;
  initMs: number | null;
  /** The full-backup trials in the order they ran. */
  order: Runner[];
  /** ms, settleMs, pgbackrestMs: medians of the trials; b: the last Ballast full backup. */
  full: (BallastBackup & { trials: FullTrial[] }) | null;
  /** ms, backupMs: medians; args: the command after --config and --stanza; retention: the file's full retention. */
  rawFull: { ms: number | null; backupMs: number | null; members: number; retention: string | null; args: string[]; trials: RawFullTrial[] } | null;
  /** Median of basebackup.trials (around restoreFull). */
  basebackupMs: number | null;
  basebackup: { ms: number | null; trials: RestoreTrial[] } | null;
  /** Ballast's restore right after the full backups, and raw restores of the same set around it. */
  restoreFull: BallastRestore | null;
  rawRestoreFull: RestoreTrials | null;
  incr: BallastBackup | null;
  walBytes: { update: number | null; sinceIncr: number | null } | null;
  restore: (BallastRestore & { targetTime: string }) | null;
  /** Median of rawRestore.trials: raw restores of the set `restore` used (full + incr), around it. */
  rawRestoreMs: number | null;
  rawRestore: RestoreTrials | null;
  undrop: { ms: number; seconds: number; rows: number; expected: number; incrMs: number; tableBytes: number } | null;
  /**
   * The agent's re-clone command (clone-plan.ts restoreCloneArgs: restore --delta --type=standby)
   * into a data dir that holds an older restore: of the newest set over the full set's files
   * (the pages the updates changed), then of the same set again (a member whose files all match).
   */
  delta: { set: string; overFullMs: number; sameSetMs: number } | null;
}

class BackupBench {
  readonly f: Figures;
  readonly id = resolveRunIdentity(OS_USER);
  cluster: TestCluster | null = null;
  primary = '';
  /** Dirs `ballast restore` was started into (cleanup brings down what is left of them). */
  private readonly restoredDirs = new Set<string>();

  constructor(readonly base: string, readonly scale: number, readonly trials: number) {
    this.f = {
      dbBytes: null, initMs: null, order: abbaOrder(trials), full: null, rawFull: null, basebackupMs: null, basebackup: null,
      restoreFull: null, rawRestoreFull: null, incr: null, walBytes: null, restore: null, rawRestoreMs: null, rawRestore: null, undrop: null, delta: null,
    };
  }

  get src(): string { return join(this.base, 'source'); }
  get restoredFull(): string { return join(this.base, 'restored-full'); }
  get restored(): string { return join(this.base, 'restored'); }
  get raw(): string { return join(this.base, 'raw'); }

  private c(): TestCluster {
    if (!this.cluster) throw new Error('no cluster');
    return this.cluster;
  }

  private superUri(member: string): string {
    const c = this.c();
    return `postgresql://${SUPERUSER}:${encodeURIComponent(c.secrets.superuserPassword)}@127.0.0.1:${c.port(member)}/postgres`;
  }

  private async app<T extends Record<string, unknown>>(sql: string, timeoutMs = 30_000): Promise<T[]> {
    return this.c().queryUri<T>(this.c().memberUri(this.primary), sql, timeoutMs);
  }

  private async dbSize(): Promise<number> {
    return Number((await this.app<{ b: string }>("SELECT pg_database_size('app') AS b"))[0]!.b);
  }

  private async lsn(): Promise<string> {
    return (await this.app<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l'))[0]!.l;
  }

  private async balanceSum(): Promise<string | undefined> {
    return (await this.app<{ s: string }>('SELECT sum(abalance)::text AS s FROM pgbench_accounts', budget(this.scale, 60, 5)))[0]?.s;
  }

  /**
   * Wait until no member has a WAL segment waiting for its archive_command (the primary's push,
   * the standby's check) and the standby replayed everything; returns ms waited.
   */
  async settle(what: string): Promise<number> {
    const t0 = performance.now();
    const end = t0 + budget(this.scale, 120, 10);
    const READY = "SELECT count(*)::text AS n FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'";
    for (;;) {
      const [lag] = await this.c().queryUri<{ b: string | null }>(this.superUri(this.primary), 'SELECT max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn))::text AS b FROM pg_stat_replication', 10_000);
      const ready = await Promise.all(this.c().info.members.map(async (m) => Number((await this.c().queryUri<{ n: string }>(this.superUri(m.name), READY, 10_000))[0]?.n)));
      const waiting = ready.reduce((a, x) => a + x, 0);
      if (waiting === 0 && lag?.b != null && Number(lag.b) < MIB) {
        const ms = performance.now() - t0;
        note(`settled before ${what} in ${s(ms)} s (archive caught up on every member, standby replayed)`);
        return ms;
      }
      if (performance.now() > end) throw new Error(`before ${what}: the archive or the standby did not catch up within ${s(end - t0)} s (segments waiting: ${ready.join('/')}, replay lag: ${lag?.b ?? 'no standby'})`);
      await new Promise((res) => setTimeout(res, 500));
    }
  }

  async backup(type: 'full' | 'incr'): Promise<BallastBackup> {
    const settleMs = await this.settle(`the ${type} backup`);
    const r = await runBallast(['backup', 'run', '--dir', this.src, '--type', type, '--json'], budget(this.scale, 300, 30));
    const b = JSON.parse(r.stdout) as BackupJson;
    const from = lineAt(r.lines, /^backup \((full|diff|incr)\): /);
    const to = lineAt(r.lines, /^backup: (full|diff|incr) backup size = /);
    const pgbackrestMs = from === null || to === null ? null : to - from;
    note(`ballast ${type} backup ${b.id} from ${b.member ?? '?'}${b.prior ? ` (prior ${b.prior})` : ''}: ${s(r.ms)} s (pgbackrest backup ${s(pgbackrestMs)} s of it), ${mib(b.sizeBytes)} MiB (repo ${mib(b.repoSizeBytes)} MiB), LSN ${b.startLsn}..${b.stopLsn}`);
    return { ms: r.ms, settleMs, pgbackrestMs, b };
  }

  async start(): Promise<void> {
    note('starting a 2-member cluster...');
    this.cluster = await TestCluster.start({ members: 2, dir: this.src });
    this.primary = (await this.cluster.waitHealthy()).members.find((m) => m.role === 'primary')!.name;
    note(`cluster in ${this.src}, primary ${this.primary}`);
    await runBallast(['backup', 'schedule', '--dir', this.src, '--full', NEVER, '--diff', NEVER, '--incr', NEVER, '--json'], 60_000);
  }

  async init(): Promise<void> {
    note(`pgbench -i -s ${this.scale} on ${this.primary} (app user, passfile)...`);
    const t0 = performance.now();
    await pgbenchInit(this.c().memberUri(this.primary), this.scale, budget(this.scale, 300, 30));
    this.f.initMs = performance.now() - t0;
    this.f.dbBytes = await this.dbSize();
    note(`pgbench init ${s(this.f.initMs)} s; database app ${mib(this.f.dbBytes)} MiB`);
  }

  /** Full backups, Ballast's and raw pgBackRest's, in ABBA order; figures are updated after every trial. */
  async fullTrials(): Promise<void> {
    const ballast: BallastBackup[] = [];
    const fullTrials: FullTrial[] = [];
    for (const [i, who] of this.f.order.entries()) {
      const order = i + 1;
      if (who === 'ballast') {
        const r = await this.backup('full');
        ballast.push(r);
        fullTrials.push({ order, ms: r.ms, settleMs: r.settleMs, pgbackrestMs: r.pgbackrestMs, id: r.b.id, member: r.b.member });
        this.f.full = { ms: median(ballast.map((x) => x.ms))!, settleMs: median(ballast.map((x) => x.settleMs))!, pgbackrestMs: median(ballast.map((x) => x.pgbackrestMs)), b: r.b, trials: fullTrials };
      } else {
        const last = ballast[ballast.length - 1];
        if (!last) throw new Error('a raw full backup before any Ballast one: the ABBA order starts with Ballast');
        await this.rawBackup(order, last.b);
      }
    }
  }

  /**
   * Raw pgBackRest: the command Ballast's backup run issues (operations.ts runBackup) with the
   * same file, stanza, repository and working directory; the file must name the hosts Ballast's
   * last full backup used (the primary, and the standby it read from).
   */
  async rawBackup(order: number, ballastFull: BackupJson): Promise<void> {
    const layout = layoutOf(this.src);
    const settleMs = await this.settle(`raw pgBackRest full backup ${order}`);
    const conf = repoConfFacts(readFileSync(layout.backupConf, 'utf8'));
    const fromStandby = ballastFull.member !== null && ballastFull.member !== this.primary;
    const hosts = fromStandby ? [this.primary, ballastFull.member!] : [this.primary];
    const want = hosts.map((m) => layout.memberData(m)).sort();
    if (conf.pgPaths.join('\n') !== want.join('\n')) {
      throw new Error(`${layout.backupConf} names ${conf.pgPaths.join(', ') || 'no pg host'}, not the hosts Ballast's full backup ${ballastFull.id} used (${want.join(', ')}): the raw run would not be like for like`);
    }
    const args = ['backup', '--type=full', `--annotation=ballast-member=${RAW_MEMBER}`, '--log-level-console=info', ...(fromStandby ? [] : ['--no-backup-standby'])];
    const r = await runAsPostgres(PGBACKREST_BIN, [`--config=${layout.backupConf}`, `--stanza=${conf.stanza}`, ...args], budget(this.scale, 300, 30), layout.backupDir, this.id);
    const backupMs = lineAt(r.lines, /INFO: full backup size = /);
    const label = r.lines.map((l) => /INFO: new backup label = (\S+)/.exec(l.text)?.[1]).find((x) => x !== undefined) ?? null;
    const prev = this.f.rawFull?.trials ?? [];
    const trials = [...prev, { order, ms: r.ms, settleMs, backupMs, label }];
    this.f.rawFull = { ms: median(trials.map((t) => t.ms)), backupMs: median(trials.map((t) => t.backupMs)), members: conf.pgPaths.length, retention: conf.retention, args, trials };
    note(`raw pgbackrest backup --type=full ${label ?? '?'} (same file, ${conf.pgPaths.length} pg hosts, retention ${conf.retention ?? '?'}): ${s(r.ms)} s (to its backup size line ${s(backupMs)} s)`);
  }

  /** The newest set in the source's repository, as `ballast backup list` names it (what `restore --latest` restores). */
  private async newestSet(): Promise<string> {
    const r = await runBallast(['backup', 'list', '--dir', this.src, '--json'], 120_000);
    const newest = (JSON.parse(r.stdout) as { newest: string | null }).newest;
    if (!newest) throw new Error(`ballast backup list names no newest backup in ${this.src}`);
    return newest;
  }

  /** Raw `pgbackrest restore --set=SET` with the source's file into an empty dir owned by postgres (timed), then removed. */
  async rawRestore(set: string, when: 'before' | 'after'): Promise<RestoreTrial> {
    const settleMs = await this.settle(`a raw pgBackRest restore of ${set}`);
    const layout = layoutOf(this.src);
    const conf = repoConfFacts(readFileSync(layout.backupConf, 'utf8'));
    const target = ownedDir(join(ownedDir(this.raw, this.id), 'restore'), this.id);
    try {
      const r = await runAsPostgres(PGBACKREST_BIN, [`--config=${layout.backupConf}`, `--stanza=${conf.stanza}`, 'restore', `--set=${set}`, `--pg1-path=${target}`, '--archive-mode=off', '--log-level-console=info'], budget(this.scale, 300, 30), this.raw, this.id);
      note(`raw pgbackrest restore --set=${set} (${when} Ballast's): ${s(r.ms)} s`);
      return { when, ms: r.ms, settleMs };
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  }

  async basebackup(when: 'before' | 'after'): Promise<RestoreTrial> {
    const settleMs = await this.settle('pg_basebackup');
    const parent = ownedDir(join(this.base, 'basebackup'), this.id);
    try {
      const r = await runAsPostgres(join(PG_BIN, 'pg_basebackup'), ['-h', layoutOf(this.src).memberDir(this.primary), '-p', String(this.c().port(this.primary)), '-U', SUPERUSER, '-w', '-D', join(parent, 'data'), '-X', 'stream', '-c', 'fast'], budget(this.scale, 300, 30), parent, this.id);
      note(`pg_basebackup -X stream -c fast from ${this.primary} (${when} Ballast's restore): ${s(r.ms)} s`);
      return { when, ms: r.ms, settleMs };
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  }

  /**
   * `ballast restore --latest --members 1` of `set` (the newest) into `into`; checks the restored
   * sum(abalance) against `sum`, then stops the restored cluster and removes its dir.
   */
  private async ballastRestore(into: string, set: string, sum: string | undefined, what: string): Promise<BallastRestore> {
    const settleMs = await this.settle(what);
    this.restoredDirs.add(into);
    const r = await runBallast(['restore', '--from', this.src, '--into', into, '--latest', '--members', '1', '--json'], budget(this.scale, 600, 60));
    const info = JSON.parse(r.stdout) as UpInfo;
    const restored = TestCluster.adopt(into, info);
    let checked: string;
    try {
      const [x] = await restored.queryUri<{ s: string }>(restored.memberUri(info.members[0]!.name), 'SELECT sum(abalance)::text AS s FROM pgbench_accounts', budget(this.scale, 60, 5));
      checked = x?.s === sum ? `sum(abalance) ${x?.s} = source` : `MISMATCH: sum(abalance) ${x?.s} vs source ${sum}`;
    } finally {
      await restored.stop();
      await rm(into, { recursive: true, force: true });
    }
    const used = restoredSet(r.lines);
    if (used !== set) throw new Error(`ballast restore --latest restored ${used ?? 'an unnamed set'}, not ${set} (the newest in backup list): the raw restores would not be like for like`);
    const phases = restorePhases(r.lines, r.ms);
    note(`ballast restore --latest (set ${set}): ${s(r.ms)} s, up to a promoted primary ${s(upToPromotion(phases))} s; ${checked}; stopped and removed`);
    return { ms: r.ms, settleMs, set, phases, upToPromotionMs: upToPromotion(phases), checked };
  }

  /**
   * Right after the full backups (little WAL to replay): raw restores and pg_basebackups around
   * one Ballast restore of the newest set (see aroundOrder).
   */
  async restoreAfterFull(): Promise<void> {
    const sum = await this.balanceSum();
    const set = await this.newestSet();
    const raw: RestoreTrials = { set, ms: null, trials: [] };
    const bb: { ms: number | null; trials: RestoreTrial[] } = { ms: null, trials: [] };
    this.f.rawRestoreFull = raw;
    this.f.basebackup = bb;
    const baseline = async (k: 'raw' | 'basebackup', when: 'before' | 'after') => {
      if (k === 'raw') {
        raw.trials.push(await this.rawRestore(set, when));
        raw.ms = median(raw.trials.map((t) => t.ms));
      } else {
        bb.trials.push(await this.basebackup(when));
        bb.ms = median(bb.trials.map((t) => t.ms));
        this.f.basebackupMs = bb.ms;
      }
    };
    const { before, after } = aroundOrder<'raw' | 'basebackup'>(['raw', 'basebackup'], this.trials);
    for (const k of before) await baseline(k, 'before');
    this.f.restoreFull = await this.ballastRestore(this.restoredFull, set, sum, 'the restore after the full backups');
    for (const k of after) await baseline(k, 'after');
  }

  async update(mod: number): Promise<void> {
    const t0 = performance.now();
    await this.app(`UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 20 = ${mod}`, budget(this.scale, 120, 20));
    note(`UPDATE of 5 % of pgbench_accounts (aid % 20 = ${mod}): ${s(performance.now() - t0)} s`);
  }

  /** After the incr backup: an update, then raw restores around Ballast's restore of the newest set (full + incr + the update's WAL). */
  async pitr(): Promise<void> {
    const incr = this.f.incr!.b;
    const before = await this.lsn();
    await this.update(1);
    const after = await this.lsn();
    const targetTime = new Date().toISOString();
    const sum = await this.balanceSum();
    this.f.walBytes = { update: lsnDiff(after, before), sinceIncr: lsnDiff(after, incr.startLsn) };
    note(`T = ${targetTime}; WAL of the update ${mib(this.f.walBytes.update)} MiB, since the incr backup's start ${mib(this.f.walBytes.sinceIncr)} MiB`);
    const set = await this.newestSet();
    const raw: RestoreTrials = { set, ms: null, trials: [] };
    this.f.rawRestore = raw;
    const baseline = async (when: 'before' | 'after') => {
      raw.trials.push(await this.rawRestore(set, when));
      raw.ms = median(raw.trials.map((t) => t.ms));
      this.f.rawRestoreMs = raw.ms;
    };
    const order = aroundOrder(['raw'], this.trials);
    for (let i = 0; i < order.before.length; i++) await baseline('before');
    this.f.restore = { ...(await this.ballastRestore(this.restored, set, sum, 'the restore after the incr backup')), targetTime };
    for (let i = 0; i < order.after.length; i++) await baseline('after');
  }

  /** Re-clone by `--delta` restore (the agent's command) against pg_basebackup: see Figures.delta. */
  async deltaReclone(): Promise<void> {
    const set = this.f.rawRestore?.set;
    const full = this.f.incr?.b.prior;
    if (!set || !full) return;
    await this.settle('the delta re-clone');
    const layout = layoutOf(this.src);
    const conf = repoConfFacts(readFileSync(layout.backupConf, 'utf8'));
    const target = ownedDir(join(ownedDir(this.raw, this.id), 'delta'), this.id);
    const restore = async (args: string[]) => (await runAsPostgres(PGBACKREST_BIN, [`--config=${layout.backupConf}`, `--stanza=${conf.stanza}`, ...args, `--pg1-path=${target}`], budget(this.scale, 300, 30), this.raw, this.id)).ms;
    try {
      const seedMs = await restore(['restore', `--set=${full}`, '--archive-mode=off', '--log-level-console=info']);
      note(`delta: the member's old files = a restore of the full set ${full} (${s(seedMs)} s, untimed)`);
      const overFullMs = await restore(restoreCloneArgs(set));
      note(`delta: ${restoreCloneArgs(set).join(' ')} over them: ${s(overFullMs)} s`);
      const sameSetMs = await restore(restoreCloneArgs(set));
      note(`delta: the same again (every file matches): ${s(sameSetMs)} s`);
      this.f.delta = { set, overFullMs, sameSetMs };
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  }

  async undrop(): Promise<void> {
    await this.app('CREATE TABLE acc_copy AS SELECT * FROM pgbench_accounts WHERE aid % 10 = 0', budget(this.scale, 120, 10));
    await this.app('CREATE INDEX acc_copy_aid ON acc_copy (aid)', budget(this.scale, 120, 10));
    const [x] = await this.app<{ n: string; b: string }>("SELECT count(*)::text AS n, pg_total_relation_size('acc_copy')::text AS b FROM acc_copy", budget(this.scale, 60, 5));
    const incr = await this.backup('incr');
    await this.app('DROP TABLE acc_copy');
    const r = await runBallast(['undrop', '--dir', this.src, '--table', 'public.acc_copy', '--json'], budget(this.scale, 300, 30));
    const u = JSON.parse(r.stdout) as { rows: number; seconds: number; restoredAs: string };
    this.f.undrop = { ms: r.ms, seconds: u.seconds, rows: u.rows, expected: Number(x!.n), incrMs: incr.ms, tableBytes: Number(x!.b) };
    note(`ballast undrop: ${s(r.ms)} s end to end (${u.seconds.toFixed(1)} s inside), ${u.rows} rows back as ${u.restoredAs} (expected ${x!.n})`);
  }

  async run(): Promise<void> {
    await this.start();
    await this.init();
    await this.fullTrials();
    await this.restoreAfterFull();
    await this.update(0);
    this.f.incr = await this.backup('incr');
    await this.pitr();
    await this.deltaReclone();
    await this.undrop();
  }

  /** Stop everything this run started (by pid: ballast down, pg_ctl on a leftover scratch instance). Idempotent. */
  async cleanup(): Promise<void> {
    for (const dir of this.restoredDirs) {
      if (!existsSync(join(dir, 'state.json'))) continue;
      await runBallast(['down', '--dir', dir], 180_000).catch((e: unknown) => note(`down of ${dir} failed: ${(e as Error).message}`));
      for (const m of existsSync(join(dir, 'members')) ? readdirSync(join(dir, 'members')) : []) await stopStrayPostgres(join(dir, 'members', m, 'data'), this.id);
    }
    const backupDir = layoutOf(this.src).backupDir;
    for (const d of existsSync(backupDir) ? readdirSync(backupDir) : []) if (/^undrop-\d+$/.test(d)) await stopStrayPostgres(join(backupDir, d, 'data'), this.id);
    if (existsSync(join(this.src, 'state.json'))) {
      if (this.cluster) await this.cluster.stop().catch((e: unknown) => note(`stopping ${this.src} failed: ${(e as Error).message}`));
      else await runBallast(['down', '--dir', this.src], 180_000).catch((e: unknown) => note(`down of ${this.src} failed: ${(e as Error).message}`));
    }
  }
}

/** Rows of one `ballast restore`'s phases (the up-to-promotion row carries `promoNote`). */
function phaseRows(r: BallastRestore | null, dbBytes: number | null, recoveryNote: string, promoNote: string): string[][] {
  const ph = r?.phases;
  return [
    ['  prepare (source archive, new dir)', `${s(ph?.prepare)} s`, ''],
    ['  pgbackrest restore (files)', `${s(ph?.files)} s`, `${f2(rate(dbBytes, ph?.files))} MiB/s of the database`],
    ['  recovery (start -> promoted)', `${s(ph?.recovery)} s`, recoveryNote],
    ['  = up to a promoted primary', `${s(r?.upToPromotionMs)} s`, promoNote],
    ['  start the cluster', `${s(ph?.startCluster)} s`, ''],
    ['  first full backup of the new cluster', `${s(ph?.firstBackup)} s`, 'into its own repository'],
  ];
}

function report(b: BackupBench, commandLine: string, load: { start: number[]; end: number[] }, commit: string, error: string | null): string[] {
  const f = b.f;
  const full = f.full;
  const raw = f.rawFull;
  const rf = f.restoreFull;
  const r = f.restore;
  const n = (t: unknown[] | undefined) => t?.length ?? 0;
  const replayRate = rate(f.walBytes?.sinceIncr, r?.phases.recovery);
  const rows: string[][] = [
    ['database app (pg_database_size)', `${mib(f.dbBytes)} MiB`, `pgbench -i -s ${b.scale}: ${s(f.initMs)} s`],
    ['full backup order', f.order.map((x) => (x === 'ballast' ? 'B' : 'R')).join(' '), 'B = ballast, R = raw pgBackRest; each after a settle'],
    [`ballast backup full (median of ${n(full?.trials)})`, `${s(full?.ms)} s`, `trials ${each(full?.trials.map((t) => t.ms) ?? [])} s; ${f2(rate(f.dbBytes, full?.ms))} MiB/s of the database; last: size ${mib(full?.b.sizeBytes)} MiB, repo ${mib(full?.b.repoSizeBytes)} MiB, from ${full?.b.member ?? '-'}; settle before ${s(full?.settleMs)} s`],
    ['  its pgbackrest backup command', `${s(full?.pgbackrestMs)} s`, `trials ${each(full?.trials.map((t) => t.pgbackrestMs) ?? [])} s; from the progress line before it to its "backup size" line; the rest: CLI start, etcd, pgbackrest info, expire`],
    [`raw pgbackrest backup --type=full (median of ${n(raw?.trials)})`, `${s(raw?.ms)} s`, `trials ${each(raw?.trials.map((t) => t.ms) ?? [])} s; ${f2(rate(f.dbBytes, raw?.ms))} MiB/s; Ballast's command, file, stanza, repository (${raw?.members ?? '-'} pg hosts, retention ${raw?.retention ?? '-'}); archive check, expire`],
    ['  up to its backup size line', `${s(raw?.backupMs)} s`, `trials ${each(raw?.trials.map((t) => t.backupMs) ?? [])} s; the same span as Ballast's pgbackrest backup command above`],
    ['ballast restore --latest (after the fulls)', `${s(rf?.ms)} s`, `set ${rf?.set ?? '-'}; ${rf?.checked ?? '-'}; settle before ${s(rf?.settleMs)} s`],
    ...phaseRows(rf, f.dbBytes, 'little WAL: the full backup\'s own and the switch before the restore', 'compared with pg_basebackup'),
    [`raw pgbackrest restore (median of ${n(f.rawRestoreFull?.trials)})`, `${s(f.rawRestoreFull?.ms)} s`, `--set=${f.rawRestoreFull?.set ?? '-'}; trials before | after ballast's: ${f.rawRestoreFull ? around(f.rawRestoreFull.trials) : '-'} s; ${f2(rate(f.dbBytes, f.rawRestoreFull?.ms))} MiB/s; files only`],
    [`pg_basebackup -X stream -c fast (median of ${n(f.basebackup?.trials)})`, `${s(f.basebackupMs)} s`, `trials before | after: ${f.basebackup ? around(f.basebackup.trials) : '-'} s; ${f2(rate(f.dbBytes, f.basebackupMs))} MiB/s; from the primary, a consistent data dir`],
    ['ballast backup incr (after 5 % UPDATE)', `${s(f.incr?.ms)} s`, `size ${mib(f.incr?.b.sizeBytes)} MiB, repo ${mib(f.incr?.b.repoSizeBytes)} MiB; prior ${f.incr?.b.prior ?? '-'}; settle before ${s(f.incr?.settleMs)} s`],
    ['WAL of the 2nd 5 % UPDATE', `${mib(f.walBytes?.update)} MiB`, `since the incr backup's start LSN: ${mib(f.walBytes?.sinceIncr)} MiB; T = ${r?.targetTime ?? '-'}`],
    ['ballast restore --latest (after incr + UPDATE)', `${s(r?.ms)} s`, `set ${r?.set ?? '-'}; ${r?.checked ?? '-'}; settle before ${s(r?.settleMs)} s`],
    ...phaseRows(r, f.dbBytes, `WAL replay ${f2(replayRate)} MiB/s (WAL since the incr start / this phase)`, ''),
    [`raw pgbackrest restore (median of ${n(f.rawRestore?.trials)})`, `${s(f.rawRestoreMs)} s`, `--set=${f.rawRestore?.set ?? '-'} (full + incr); trials before | after ballast's: ${f.rawRestore ? around(f.rawRestore.trials) : '-'} s; files only`],
    ['re-clone: restore --delta over the full set\'s files', `${s(f.delta?.overFullMs)} s`, `the agent\'s clone command (--type=standby --set=${f.delta?.set ?? '-'}); the updates changed every pgbench_accounts file`],
    ['re-clone: restore --delta, every file matching', `${s(f.delta?.sameSetMs)} s`, 'a member whose files all match the backup (checksums only)'],
    ['ballast backup incr (with acc_copy)', `${s(f.undrop?.incrMs)} s`, `acc_copy with index ${mib(f.undrop?.tableBytes)} MiB`],
    ['ballast undrop public.acc_copy', `${s(f.undrop?.ms)} s`, f.undrop ? `${f.undrop.seconds.toFixed(1)} s inside; ${f.undrop.rows} rows of ${f.undrop.expected}${f.undrop.rows === f.undrop.expected ? '' : ' MISMATCH'}` : '-'],
  ];
  const goal = (x: number | null, ok: (v: number) => boolean, text: string) => (x === null ? `${text}: -` : `${text}: ${ok(x) ? 'met' : 'NOT met'}`);
  const rBackup = ratio(full?.ms, raw?.ms);
  const rFilesFull = ratio(rf?.phases.files, f.rawRestoreFull?.ms);
  const rFiles = ratio(r?.phases.files, f.rawRestoreMs);
  const rBbPromo = ratio(f.basebackupMs, rf?.upToPromotionMs);
  const undropS = f.undrop ? f.undrop.ms / 1000 : null;
  const ratios: string[][] = [
    ['full backup: ballast / raw pgBackRest (medians)', f2(rBackup), goal(rBackup, (v) => v <= 1.1, '<= 1.1')],
    ['full backup: its pgbackrest command / raw up to its size line', f2(ratio(full?.pgbackrestMs, raw?.backupMs)), 'the same command without the CLI\'s own work'],
    ['restore files after the fulls: ballast phase / raw (median)', f2(rFilesFull), goal(rFilesFull, (v) => v <= 1.1, '<= 1.1')],
    ['restore files after incr: ballast phase / raw (median)', f2(rFiles), goal(rFiles, (v) => v <= 1.1, '<= 1.1')],
    ['pg_basebackup / ballast restore up to a promoted primary', f2(rBbPromo), goal(rBbPromo, (v) => v > 1, '> 1 (restore faster)')],
    ['pg_basebackup / ballast restore files phase', f2(ratio(f.basebackupMs, rf?.phases.files)), 'both after the full backups'],
    ['pg_basebackup / ballast restore total (after the fulls)', f2(ratio(f.basebackupMs, rf?.ms)), 'the total also starts the cluster and takes its first backup'],
    ['restore total after incr: ballast / raw pgBackRest', f2(ratio(r?.ms, f.rawRestoreMs)), 'ballast also replays WAL, starts a cluster, backs it up'],
    ['pg_basebackup / re-clone by restore --delta (over the full; all matching)', `${f2(ratio(f.basebackupMs, f.delta?.overFullMs))}; ${f2(ratio(f.basebackupMs, f.delta?.sameSetMs))}`, 'the path an agent takes for a re-clone when a backup exists'],
    ['undrop end to end (s)', undropS === null ? '-' : undropS.toFixed(1), goal(undropS, (v) => v <= 60, '<= 60 s')],
  ];
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  return [
    '',
    `backup benchmark: ${commandLine}`,
    `commit ${commit}; pgbench scale ${b.scale}; ${b.trials} trials; 2 members; load average (1/5/15 min) at start ${la(load.start)}, at end ${la(load.end)}`,
    ...(error ? [`STOPPED EARLY: ${error}`] : []),
    '',
    ...table(['figure', 'value', 'notes'], rows),
    '',
    ...table(['ratio', 'value', 'goal / note'], ratios),
    '',
    'Notes: MiB = 2^20 bytes; rates divide the size of database app by the time; times are medians of the trials listed.',
    `Raw pgBackRest runs the backup command Ballast's backup run issues (annotation ballast-member=${RAW_MEMBER}) with the same`,
    'file (DIR/backup/pgbackrest.conf), stanza and repository: it waits for its last WAL segment in the archive and expires',
    'inside the command (Ballast expires beside its info afterwards; its total includes both). Its restores use that file with --pg1-path, --archive-mode=off and --set= the',
    'set Ballast\'s restore took (from backup list, checked against its progress line). Trials alternate (ABBA for the',
    'backups; restore baselines before | after Ballast\'s restore) so neither side always runs on a warm page cache; each',
    'timed step waits for a settled archive and standby first. The recovery phase includes postgres start-up and',
    'archive-get of every segment; pg_basebackup copies uncompressed over the socket, pgBackRest restores decompress',
    `(zst) and decrypt. The cluster's scheduled backups were moved to 1 January (${NEVER}) for the run. Everything ran`,
    'on one shared machine: compare within the run.',
  ];
}

function commitOf(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return `${head}${dirty ? ' (+ uncommitted changes)' : ''}`;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  const commandLine = `node ${relative(process.cwd(), process.argv[1] ?? 'dist/bench/backup.js')} ${process.argv.slice(2).join(' ')}`.trim();
  const load = { start: loadavg(), end: [] as number[] };
  note(`load average at start: ${load.start.map((x) => x.toFixed(2)).join(' ')}`);
  const base = await mkdtemp(join(args.dirBase, 'ballast-bench-backup-'));
  chmodSync(base, 0o755); // the postgres OS user must traverse it
  const b = new BackupBench(base, args.scale, args.trials);
  let cleaned: Promise<void> | null = null;
  const cleanup = () => (cleaned ??= b.cleanup().finally(() => rm(base, { recursive: true, force: true })));
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals) => {
    signalled = true;
    note(`${sig}: stopping what the bench started...`);
    void stopRunning().then(cleanup).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let error: string | null = null;
  try {
    await b.run();
  } catch (e) {
    error = (e as Error).message;
    note(`benchmark stopped: ${(e as Error).stack ?? error}`);
    if (b.cluster && !signalled) note(await b.cluster.diagnostics().catch(() => ''));
  } finally {
    await cleanup();
  }
  load.end = loadavg();
  if (args.json) process.stdout.write(`${JSON.stringify({ commandLine, commit: commitOf(), scale: args.scale, load, trials: args.trials, figures: b.f, error }, null, 2)}\n`);
  else process.stdout.write(`${report(b, commandLine, load, commitOf(), error).join('\n')}\n`);
  if (error !== null) process.exitCode = 1;
}

main().catch((e: unknown) => {
  note(`bench failed: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
});
