// Backup benchmark (a program, not a test): ONE local 2-member cluster holding a pgbench database
// of scale N (70 is about 1 GB), and
//   1. `ballast backup run --type full`: time, MiB/s (pg_database_size('app') / time);
//   2. UPDATE of 5 % of pgbench_accounts, then `backup run --type incr`: time;
//   3. another 5 % UPDATE (its WAL measured with pg_current_wal_lsn), then `ballast restore
//      --latest --members 1` into a new dir: total time, its phases (from its progress lines on
//      stderr, timestamped as they arrive) and the WAL replay rate = WAL from the incr backup's
//      start LSN to the end of the update / the recovery phase (postgres start to promotion,
//      archive-get of every segment included);
//   4. undrop: a copy table (10 % of the accounts) plus an index, an incr backup, DROP TABLE, then
//      `ballast undrop`: time end to end (goal <= 60 s for a table in a 1 GB database);
//   5. baselines on the same cluster: raw `pgbackrest` with a copy of the repository-side file
//      Ballast wrote (DIR/backup/pgbackrest.conf, naming the primary and the standby the backup
//      reads from) pointed at a fresh repository, log and lock path: `backup --type=full` and
//      `restore` into an empty dir (only those two commands are timed); and `pg_basebackup -X
//      stream -c fast` from the primary over its Unix socket (peer auth as the postgres OS user).
// Prints a table of figures and the ratios Ballast / raw pgBackRest (goal <= 1.1) and
// pg_basebackup / Ballast restore (goal > 1: Ballast's restore gives a usable data dir faster).
//
// Run order: init -> settle -> Ballast full -> raw pgBackRest full -> pg_basebackup -> update ->
// settle -> incr -> update -> settle -> restore -> raw restore -> undrop. "Settle" waits until no
// member has a WAL segment waiting for its archive_command (the primary's push, the standby's
// check) and the standby has replayed everything, so no backup or restore pays for the archive
// backlog the bench's own bulk writes left (each wait is printed). The scheduled backups are moved to 1 January for the run so none starts meanwhile.
// Raw pgBackRest runs with --no-archive-check: the cluster archives into Ballast's repository, not
// the fresh one, so the raw backup does not wait for its last WAL segment the way Ballast's does
// (and its restore alone is not a usable data dir without that WAL).
// Usage: node dist/bench/backup.js [--scale N] [--dir-base DIR] [--json]
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { resolveRunIdentity, runCommand, type OsIdentity } from '../src/agent/run-as.js';
import { SUPERUSER } from '../src/domain/config.js';
import { lsnDiff } from '../src/domain/lsn.js';
import { layoutOf } from '../src/local/layout.js';
import { BALLAST_BIN, TestCluster, type UpInfo } from '../src/testkit/cluster.js';
import { pgbenchInit } from '../src/testkit/pgbench.js';
import { note } from './bench-common.js';

const USAGE = 'usage: node dist/bench/backup.js [--scale N] [--dir-base DIR] [--json]';
const PG_BIN = '/usr/lib/postgresql/15/bin';
const PGBACKREST_BIN = process.env.BALLAST_PGBACKREST_BIN ?? '/usr/bin/pgbackrest';
const OS_USER = 'postgres';
const MIB = 1024 * 1024;
const NEVER = '0 0 1 1 *'; // the scheduled backups wait for 1 January during the run

interface Args { scale: number; dirBase: string; json: boolean }

function parseBenchArgs(argv: string[]): Args {
  const { values } = parseArgs({ args: argv, options: { scale: { type: 'string' }, 'dir-base': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } }, strict: true });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const scale = values.scale === undefined ? 70 : Number(values.scale);
  if (!Number.isInteger(scale) || scale < 1 || scale > 1000) throw new Error(`--scale must be a whole number from 1 to 1000 (got ${values.scale})`);
  const dirBase = resolve(values['dir-base'] ?? '/tmp');
  if (!existsSync(dirBase)) throw new Error(`--dir-base ${dirBase} does not exist`);
  return { scale, dirBase, json: values.json === true };
}

/** Time limits grow with the database: `base` seconds plus `perScale` seconds per pgbench scale unit. */
function budget(scale: number, baseS: number, perScaleS: number): number {
  return (baseS + perScaleS * scale) * 1000;
}

// ---- pure helpers ---------------------------------------------------------------------------

/** The repository-side file pointed at another repository, log and lock path (every key must be there). */
function pointConfAt(text: string, paths: { repo: string; log: string; lock: string }): string {
  const want: Record<string, string> = { 'repo1-path': paths.repo, 'log-path': paths.log, 'lock-path': paths.lock };
  const seen = new Set<string>();
  const out = text.split('\n').map((line) => {
    const k = /^([a-z0-9-]+)=/.exec(line)?.[1];
    if (k === undefined || want[k] === undefined) return line;
    seen.add(k);
    return `${k}=${want[k]}`;
  });
  const missing = Object.keys(want).filter((k) => !seen.has(k));
  if (missing.length) throw new Error(`the repository-side pgbackrest.conf has no ${missing.join(', ')}`);
  return out.join('\n');
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

const s = (ms: number | null | undefined) => (ms === null || ms === undefined ? '-' : (ms / 1000).toFixed(1));
const mib = (b: number | null | undefined) => (b === null || b === undefined ? '-' : (b / MIB).toFixed(1));
const rate = (bytes: number | null | undefined, ms: number | null | undefined) => (bytes == null || !ms ? null : bytes / MIB / (ms / 1000));
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null || b === 0 ? null : a / b);
const f2 = (x: number | null) => (x === null ? '-' : x.toFixed(2));

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

async function timedAsPostgres(bin: string, args: string[], timeoutMs: number, cwd: string, id: OsIdentity | null): Promise<number> {
  const t0 = performance.now();
  await runCommand(bin, args, { identity: id, timeoutMs, cwd });
  return performance.now() - t0;
}

/** Stop a postgres left running in `dataDir` (e.g. an undrop scratch instance after a timeout): pg_ctl, immediate. */
async function stopStrayPostgres(dataDir: string, id: OsIdentity | null): Promise<void> {
  if (!existsSync(join(dataDir, 'postmaster.pid'))) return;
  note(`stopping the postgres left running in ${dataDir}`);
  await runCommand(join(PG_BIN, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30'], { identity: id, timeoutMs: 40_000 }).catch((e: unknown) => note(`  pg_ctl stop failed: ${(e as Error).message}`));
}

interface BackupJson { id: string; type: string; member: string | null; startLsn: string; stopLsn: string; sizeBytes: number; repoSizeBytes?: number }

interface Figures {
  dbBytes: number | null;
  initMs: number | null;
  full: { ms: number; settleMs: number; pgbackrestMs: number | null; b: BackupJson } | null;
  rawFull: { ms: number; members: number } | null;
  basebackupMs: number | null;
  incr: { ms: number; settleMs: number; pgbackrestMs: number | null; b: BackupJson } | null;
  walBytes: { update: number | null; sinceIncr: number | null } | null;
  restore: { ms: number; settleMs: number; phases: RestorePhases; targetTime: string; checked: string } | null;
  rawRestoreMs: number | null;
  undrop: { ms: number; seconds: number; rows: number; expected: number; incrMs: number; tableBytes: number } | null;
}

class BackupBench {
  readonly f: Figures = { dbBytes: null, initMs: null, full: null, rawFull: null, basebackupMs: null, incr: null, walBytes: null, restore: null, rawRestoreMs: null, undrop: null };
  readonly id = resolveRunIdentity(OS_USER);
  cluster: TestCluster | null = null;
  primary = '';
  private restoredStarted = false;

  constructor(readonly base: string, readonly scale: number) {}

  get src(): string { return join(this.base, 'source'); }
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

  async backup(type: 'full' | 'incr'): Promise<{ ms: number; settleMs: number; pgbackrestMs: number | null; b: BackupJson }> {
    const settleMs = await this.settle(`the ${type} backup`);
    const r = await runBallast(['backup', 'run', '--dir', this.src, '--type', type, '--json'], budget(this.scale, 300, 30));
    const b = JSON.parse(r.stdout) as BackupJson;
    const from = lineAt(r.lines, /^backup \((full|diff|incr)\): /);
    const to = lineAt(r.lines, /^backup: (full|diff|incr) backup size = /);
    const pgbackrestMs = from === null || to === null ? null : to - from;
    note(`ballast ${type} backup ${b.id} from ${b.member ?? '?'}: ${s(r.ms)} s (pgbackrest backup ${s(pgbackrestMs)} s of it), ${mib(b.sizeBytes)} MiB (repo ${mib(b.repoSizeBytes)} MiB), LSN ${b.startLsn}..${b.stopLsn}`);
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

  /** Raw pgBackRest: the file Ballast's backup wrote, pointed at a fresh repo; stanza-create (untimed), backup (timed). */
  async rawBackup(): Promise<void> {
    const raw = ownedDir(this.raw, this.id);
    const conf = join(raw, 'pgbackrest.conf');
    const text = pointConfAt(readFileSync(layoutOf(this.src).backupConf, 'utf8'), { repo: ownedDir(join(raw, 'repo'), this.id), log: ownedDir(join(raw, 'log'), this.id), lock: ownedDir(join(raw, 'lock'), this.id) });
    writeFileSync(conf, text, { mode: 0o600 });
    if (this.id) chownSync(conf, this.id.uid, this.id.gid);
    const members = text.split('\n').filter((l) => /^pg\d+-path=/.test(l)).length;
    const stanza = this.c().info.cluster;
    const pgb = (args: string[], timeoutMs: number) => timedAsPostgres(PGBACKREST_BIN, [`--config=${conf}`, `--stanza=${stanza}`, ...args], timeoutMs, raw, this.id);
    await pgb(['stanza-create'], 120_000);
    await this.settle('the raw pgBackRest full backup');
    const ms = await pgb(['backup', '--type=full', '--no-archive-check', '--log-level-console=info'], budget(this.scale, 300, 30));
    this.f.rawFull = { ms, members };
    note(`raw pgbackrest backup --type=full (${members} pg hosts in the file): ${s(ms)} s`);
  }

  async rawRestore(): Promise<void> {
    const target = ownedDir(join(this.raw, 'restore'), this.id);
    const conf = join(this.raw, 'pgbackrest.conf');
    const ms = await timedAsPostgres(PGBACKREST_BIN, [`--config=${conf}`, `--stanza=${this.c().info.cluster}`, 'restore', `--pg1-path=${target}`, '--archive-mode=off', '--log-level-console=info'], budget(this.scale, 300, 30), this.raw, this.id);
    this.f.rawRestoreMs = ms;
    note(`raw pgbackrest restore: ${s(ms)} s`);
    await rm(target, { recursive: true, force: true });
  }

  async basebackup(): Promise<void> {
    const parent = ownedDir(join(this.base, 'basebackup'), this.id);
    const target = join(parent, 'data');
    await this.settle('pg_basebackup');
    const ms = await timedAsPostgres(join(PG_BIN, 'pg_basebackup'), ['-h', layoutOf(this.src).memberDir(this.primary), '-p', String(this.c().port(this.primary)), '-U', SUPERUSER, '-w', '-D', target, '-X', 'stream', '-c', 'fast'], budget(this.scale, 300, 30), parent, this.id);
    this.f.basebackupMs = ms;
    note(`pg_basebackup -X stream -c fast from ${this.primary}: ${s(ms)} s`);
    await rm(parent, { recursive: true, force: true });
  }

  async update(mod: number): Promise<void> {
    const t0 = performance.now();
    await this.app(`UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 20 = ${mod}`, budget(this.scale, 120, 20));
    note(`UPDATE of 5 % of pgbench_accounts (aid % 20 = ${mod}): ${s(performance.now() - t0)} s`);
  }

  async pitr(): Promise<void> {
    const incr = this.f.incr!.b;
    const before = await this.lsn();
    await this.update(1);
    const after = await this.lsn();
    const targetTime = new Date().toISOString();
    const [sum] = await this.app<{ s: string }>('SELECT sum(abalance)::text AS s FROM pgbench_accounts', budget(this.scale, 60, 5));
    this.f.walBytes = { update: lsnDiff(after, before), sinceIncr: lsnDiff(after, incr.startLsn) };
    note(`T = ${targetTime}; WAL of the update ${mib(this.f.walBytes.update)} MiB, since the incr backup's start ${mib(this.f.walBytes.sinceIncr)} MiB`);
    const settleMs = await this.settle('the restore');
    this.restoredStarted = true;
    const r = await runBallast(['restore', '--from', this.src, '--into', this.restored, '--latest', '--members', '1', '--json'], budget(this.scale, 600, 60));
    const info = JSON.parse(r.stdout) as UpInfo;
    const restored = TestCluster.adopt(this.restored, info);
    let checked: string;
    try {
      const [x] = await restored.queryUri<{ s: string }>(restored.memberUri(info.members[0]!.name), 'SELECT sum(abalance)::text AS s FROM pgbench_accounts', budget(this.scale, 60, 5));
      checked = x?.s === sum?.s ? `sum(abalance) ${x?.s} = source` : `MISMATCH: sum(abalance) ${x?.s} vs source ${sum?.s}`;
    } finally {
      await restored.stop();
    }
    this.f.restore = { ms: r.ms, settleMs, phases: restorePhases(r.lines, r.ms), targetTime, checked };
    note(`ballast restore --latest: ${s(r.ms)} s; ${checked}`);
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
    this.f.full = await this.backup('full');
    await this.rawBackup();
    await this.basebackup();
    await this.update(0);
    this.f.incr = await this.backup('incr');
    await this.pitr();
    await this.rawRestore();
    await this.undrop();
  }

  /** Stop everything this run started (by pid: ballast down, pg_ctl on a leftover scratch instance). Idempotent. */
  async cleanup(): Promise<void> {
    if (this.restoredStarted && existsSync(join(this.restored, 'state.json'))) {
      await runBallast(['down', '--dir', this.restored], 180_000).catch((e: unknown) => note(`down of ${this.restored} failed: ${(e as Error).message}`));
      for (const m of existsSync(join(this.restored, 'members')) ? readdirSync(join(this.restored, 'members')) : []) await stopStrayPostgres(join(this.restored, 'members', m, 'data'), this.id);
    }
    const backupDir = layoutOf(this.src).backupDir;
    for (const d of existsSync(backupDir) ? readdirSync(backupDir) : []) if (/^undrop-\d+$/.test(d)) await stopStrayPostgres(join(backupDir, d, 'data'), this.id);
    if (existsSync(join(this.src, 'state.json'))) {
      if (this.cluster) await this.cluster.stop().catch((e: unknown) => note(`stopping ${this.src} failed: ${(e as Error).message}`));
      else await runBallast(['down', '--dir', this.src], 180_000).catch((e: unknown) => note(`down of ${this.src} failed: ${(e as Error).message}`));
    }
  }
}

function report(b: BackupBench, commandLine: string, load: { start: number[]; end: number[] }, commit: string, error: string | null): string[] {
  const f = b.f;
  const full = f.full;
  const ph = f.restore?.phases;
  const replayRate = rate(f.walBytes?.sinceIncr, ph?.recovery);
  const upToPromotion = ph && ph.prepare !== null && ph.files !== null && ph.recovery !== null ? ph.prepare + ph.files + ph.recovery : null;
  const rows: string[][] = [
    ['database app (pg_database_size)', `${mib(f.dbBytes)} MiB`, `pgbench -i -s ${b.scale}: ${s(f.initMs)} s`],
    ['ballast backup full', `${s(full?.ms)} s`, `${f2(rate(f.dbBytes, full?.ms))} MiB/s of the database; backup size ${mib(full?.b.sizeBytes)} MiB, repo ${mib(full?.b.repoSizeBytes)} MiB; from ${full?.b.member ?? '-'}; settle before ${s(full?.settleMs)} s`],
    ['  its pgbackrest backup command', `${s(full?.pgbackrestMs)} s`, 'from the progress line before it to its "backup size" line (the expire after it not counted); the rest: CLI start, etcd, pgbackrest info'],
    ['raw pgbackrest backup --type=full', `${s(f.rawFull?.ms)} s`, `${f2(rate(f.dbBytes, f.rawFull?.ms))} MiB/s; same file, ${f.rawFull?.members ?? '-'} pg hosts, --no-archive-check`],
    ['pg_basebackup -X stream -c fast', `${s(f.basebackupMs)} s`, `${f2(rate(f.dbBytes, f.basebackupMs))} MiB/s; from the primary, a usable data dir`],
    ['ballast backup incr (after 5 % UPDATE)', `${s(f.incr?.ms)} s`, `size ${mib(f.incr?.b.sizeBytes)} MiB, repo ${mib(f.incr?.b.repoSizeBytes)} MiB; settle before ${s(f.incr?.settleMs)} s`],
    ['WAL of the 2nd 5 % UPDATE', `${mib(f.walBytes?.update)} MiB`, `since the incr backup's start LSN: ${mib(f.walBytes?.sinceIncr)} MiB; T = ${f.restore?.targetTime ?? '-'}`],
    ['ballast restore --latest --members 1', `${s(f.restore?.ms)} s`, `${f.restore?.checked ?? '-'}; settle before ${s(f.restore?.settleMs)} s`],
    ['  prepare (source archive, new dir)', `${s(ph?.prepare)} s`, ''],
    ['  pgbackrest restore (files)', `${s(ph?.files)} s`, `${f2(rate(f.dbBytes, ph?.files))} MiB/s of the database`],
    ['  recovery (start -> promoted)', `${s(ph?.recovery)} s`, `WAL replay ${f2(replayRate)} MiB/s (WAL since the incr start / this phase)`],
    ['  start the cluster', `${s(ph?.startCluster)} s`, ''],
    ['  first full backup of the new cluster', `${s(ph?.firstBackup)} s`, 'into its own repository'],
    ['raw pgbackrest restore', `${s(f.rawRestoreMs)} s`, `${f2(rate(f.dbBytes, f.rawRestoreMs))} MiB/s; files only, of the raw full backup`],
    ['ballast backup incr (with acc_copy)', `${s(f.undrop?.incrMs)} s`, `acc_copy with index ${mib(f.undrop?.tableBytes)} MiB`],
    ['ballast undrop public.acc_copy', `${s(f.undrop?.ms)} s`, f.undrop ? `${f.undrop.seconds.toFixed(1)} s inside; ${f.undrop.rows} rows of ${f.undrop.expected}${f.undrop.rows === f.undrop.expected ? '' : ' MISMATCH'}` : '-'],
  ];
  const goal = (x: number | null, ok: (v: number) => boolean, text: string) => (x === null ? `${text}: -` : `${text}: ${ok(x) ? 'met' : 'NOT met'}`);
  const rBackup = ratio(full?.ms, f.rawFull?.ms);
  const rFiles = ratio(ph?.files, f.rawRestoreMs);
  const rRestore = ratio(f.restore?.ms, f.rawRestoreMs);
  const rBb = ratio(f.basebackupMs, f.restore?.ms);
  const rBbPromo = ratio(f.basebackupMs, upToPromotion);
  const undropS = f.undrop ? f.undrop.ms / 1000 : null;
  const ratios: string[][] = [
    ['full backup: ballast / raw pgBackRest', f2(rBackup), goal(rBackup, (v) => v <= 1.1, '<= 1.1')],
    ['full backup: its pgbackrest command / raw pgBackRest', f2(ratio(full?.pgbackrestMs, f.rawFull?.ms)), 'without the CLI\'s own work'],
    ['restore files: ballast phase / raw pgBackRest restore', f2(rFiles), goal(rFiles, (v) => v <= 1.1, '<= 1.1')],
    ['restore total: ballast / raw pgBackRest restore', f2(rRestore), 'ballast also replays WAL, starts a cluster, backs it up'],
    ['pg_basebackup / ballast restore total', f2(rBb), goal(rBb, (v) => v > 1, '> 1 (restore faster)')],
    ['pg_basebackup / ballast restore up to promotion', f2(rBbPromo), 'without cluster start and first backup'],
    ['undrop end to end (s)', undropS === null ? '-' : undropS.toFixed(1), goal(undropS, (v) => v <= 60, '<= 60 s')],
  ];
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  return [
    '',
    `backup benchmark: ${commandLine}`,
    `commit ${commit}; pgbench scale ${b.scale}; 2 members; load average (1/5/15 min) at start ${la(load.start)}, at end ${la(load.end)}`,
    ...(error ? [`STOPPED EARLY: ${error}`] : []),
    '',
    ...table(['figure', 'value', 'notes'], rows),
    '',
    ...table(['ratio', 'value', 'goal / note'], ratios),
    '',
    'Notes: MiB = 2^20 bytes; rates divide the size of database app by the time. Raw pgBackRest ran with --no-archive-check',
    '(the cluster archives into Ballast\'s repository): it does not wait for its last WAL segment as Ballast\'s backup does.',
    'The recovery phase includes postgres start-up and archive-get of every segment; pg_basebackup copies uncompressed',
    'over the socket, pgBackRest restores decompress (zst) and decrypt. The cluster\'s scheduled backups were moved to',
    `1 January (${NEVER}) for the run. Everything ran on one shared machine: compare within the run.`,
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
  const b = new BackupBench(base, args.scale);
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
  if (args.json) process.stdout.write(`${JSON.stringify({ commandLine, commit: commitOf(), scale: args.scale, load, figures: b.f, error }, null, 2)}\n`);
  else process.stdout.write(`${report(b, commandLine, load, commitOf(), error).join('\n')}\n`);
  if (error !== null) process.exitCode = 1;
}

main().catch((e: unknown) => {
  note(`bench failed: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
});
