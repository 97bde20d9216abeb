// PostgresControl: the real PgControl. Runs PostgreSQL binaries as the OS user (see run-as.ts),
// owns the configuration files (pure renderers in pg-config.ts) and talks SQL with `pg`.
// Modes of the local postgres: absent -> initdb|basebackup|restore (from a backup) -> stopped
// <-> running; a stopped former primary rejoins with rewind (or a fresh clone).
import { chown, chmod, mkdir, open, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { APP_DATABASE, APP_USER, REPLICATION_USER, SUPERUSER, type AgentConfig, type Secrets } from '../domain/config.js';
import { CommandFailedError, InvalidInputError, PostgresUnavailableError, TimeoutError, errorMessage } from '../domain/errors.js';
import type { Logger } from '../domain/log.js';
import type { ArchiverFacts } from '../domain/archive.js';
import type { LsnText, ReplicationPeer } from '../domain/types.js';
import {
  DYNAMIC_CONF,
  parseSyncStandbyNames,
  renderDynamicConf,
  renderPassfile,
  renderPgHba,
  renderPgIdent,
  renderPostgresqlConf,
  renderConninfo,
  type DynamicRole,
} from './pg-config.js';
import type { ControlData, PgControl, PgObservation, Upstream } from './pg-control.js';
import { resolveRunIdentity, runCommand, spawnDetached, tail, type OsIdentity, type RunOptions } from './run-as.js';
import { scramVerifier, scramVerifierMatches } from './scram.js';
import { ensureWaitForLsn } from './read-your-writes.js';
import { memberArchiveCommands, memberArchiveParameters, memberBackupPaths, memberPgBackRest, renderMemberBackupConf } from './pg-archive.js';
import { parseStanzaInfo, type StanzaInfo } from '../backup/backup-info.js';
import type { PgBackRest } from '../backup/pgbackrest.js';
import { dropRecoverySettings } from '../backup/recover.js';
import { restoreCloneArgs } from './clone-plan.js';

export interface PostgresControlOptions {
  basebackupTimeoutMs?: number;
  restoreTimeoutMs?: number;
  rewindTimeoutMs?: number;
  initdbTimeoutMs?: number;
}

const SLOT_NAME = /^[a-z0-9_]{1,63}$/;
/** In the run directory: a clone by restore into the data directory has not finished. */
export const CLONE_MARKER = 'clone-in-progress';

export class PostgresControl implements PgControl {
  private readonly identity: OsIdentity | null;
  private pool: pg.Pool | null = null;
  private probeConn: { key: string; client: pg.Client } | null = null;
  private readonly passfile: string;
  private readonly logFile: string;
  /** Present while a clone by restore is unfinished: the data directory must not be started. */
  private readonly cloneMarker: string;
  private pgb: PgBackRest | null = null;

  constructor(
    private readonly config: AgentConfig,
    private readonly secrets: Secrets,
    private readonly log: Logger,
    private readonly options: PostgresControlOptions = {},
  ) {
    this.identity = resolveRunIdentity(config.osUser);
    this.passfile = join(config.runDir, 'pgpass');
    this.logFile = join(config.runDir, 'postgres.log');
    this.cloneMarker = join(config.runDir, CLONE_MARKER);
  }

  private bin(name: string): string {
    return join(this.config.pgBinDir, name);
  }

  private run(tool: string, args: string[], opts: Partial<RunOptions> & { timeoutMs: number }) {
    return runCommand(this.bin(tool), args, {
      identity: this.identity,
      cwd: this.config.runDir,
      redact: [this.secrets.superuserPassword, this.secrets.replicationPassword, this.secrets.appPassword, this.secrets.repoCipherPass ?? ''],
      ...opts,
    });
  }

  // ---- files ---------------------------------------------------------------------------

  private async own(path: string): Promise<void> {
    if (this.identity) await chown(path, this.identity.uid, this.identity.gid);
  }

  private async ensureDir(path: string, mode: number): Promise<void> {
    // Parents get the default mode: the OS user must be able to traverse them.
    await mkdir(dirname(path), { recursive: true });
    await mkdir(path, { recursive: true, mode });
    await chmod(path, mode);
    await this.own(path);
  }

  /** Atomically write a file owned by the OS user; returns true if the content changed. */
  private async writeOwned(path: string, content: string, mode = 0o600): Promise<boolean> {
    const old = await readFile(path, 'utf8').catch(() => null);
    if (old === content) {
      await chmod(path, mode);
      return false;
    }
    const tmp = `${path}.ballast-tmp`;
    await rm(tmp, { force: true });
    await writeFile(tmp, content, { mode, flag: 'wx' });
    await chmod(tmp, mode);
    await this.own(tmp);
    await rename(tmp, path);
    return true;
  }

  private async ensureRunDir(): Promise<void> {
    await this.ensureDir(this.config.runDir, 0o700);
    await this.writeOwned(
      this.passfile,
      renderPassfile([
        { user: REPLICATION_USER, password: this.secrets.replicationPassword },
        { user: SUPERUSER, password: this.secrets.superuserPassword },
      ]),
    );
    const backupConf = renderMemberBackupConf(this.config, this.secrets);
    if (backupConf !== null) {
      const p = memberBackupPaths(this.config.runDir);
      for (const d of [dirname(p.spool), p.spool, p.log, p.lock]) await this.ensureDir(d, 0o700);
      await this.writeOwned(p.conf, backupConf);
    }
  }

  /** Empty data directory with mode 0700 owned by the OS user. */
  private async freshDataDir(): Promise<void> {
    await rm(this.config.dataDir, { recursive: true, force: true });
    await this.ensureDir(this.config.dataDir, 0o700);
  }

  private async assertStopped(what: string): Promise<void> {
    const pid = await this.postmasterPid();
    if (pid !== null) throw new CommandFailedError(`cannot ${what}: postgres is running (pid ${pid})`);
  }

  async hasDataDir(): Promise<boolean> {
    return existsSync(join(this.config.dataDir, 'PG_VERSION')) && !existsSync(this.cloneMarker);
  }

  async initdb(): Promise<void> {
    if (await this.hasDataDir()) throw new InvalidInputError(`data directory ${this.config.dataDir} is already initialized`);
    await this.ensureRunDir();
    await this.freshDataDir();
    const pwfile = join(this.config.runDir, `initdb-pw-${process.pid}`);
    await rm(pwfile, { force: true });
    await writeFile(pwfile, `${this.secrets.superuserPassword}\n`, { mode: 0o600, flag: 'wx' });
    try {
      await this.own(pwfile);
      await this.run('initdb', [
        '-D', this.config.dataDir, '--data-checksums', '--auth-local=peer', '--auth-host=scram-sha-256',
        '-U', SUPERUSER, `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C', '--no-instructions',
      ], { timeoutMs: this.options.initdbTimeoutMs ?? 120_000 });
    } finally {
      await rm(pwfile, { force: true });
    }
    this.log.info({ dataDir: this.config.dataDir }, 'initdb done');
  }

  async writeStaticConfig(): Promise<void> {
    await this.ensureRunDir();
    const d = this.config.dataDir;
    const osUsers = ['root', this.config.osUser];
    const self = this.identity ? null : userInfo().username;
    if (self) osUsers.push(self);
    await this.writeOwned(join(d, 'postgresql.conf'), renderPostgresqlConf({
      memberName: this.config.name,
      host: this.config.host,
      port: this.config.port,
      runDir: this.config.runDir,
      // Archiving first, so an operator's pgParameters can still override a value.
      pgParameters: { ...memberArchiveParameters(this.config), ...this.config.pgParameters },
    }));
    await this.writeOwned(join(d, 'pg_hba.conf'), renderPgHba());
    await this.writeOwned(join(d, 'pg_ident.conf'), renderPgIdent(osUsers));
  }

  async writeDynamicConfig(role: DynamicRole): Promise<boolean> {
    await this.ensureRunDir();
    const changed = await this.writeOwned(
      join(this.config.dataDir, DYNAMIC_CONF),
      renderDynamicConf(this.config.name, role, this.passfile, memberArchiveCommands(this.config)),
    );
    const signal = join(this.config.dataDir, 'standby.signal');
    const hasSignal = existsSync(signal);
    if (role.kind === 'standby' && !hasSignal) {
      await this.writeOwned(signal, '');
      return true;
    }
    if (role.kind === 'primary' && hasSignal) {
      await unlink(signal);
      return true;
    }
    return changed;
  }

  // ---- cloning and rewinding -----------------------------------------------------------

  async basebackup(from: Upstream, onProgress?: (line: string) => void): Promise<void> {
    await this.assertStopped('run pg_basebackup');
    await this.ensureRunDir();
    // Clone beside the data directory and swap only on success: a failed or interrupted clone
    // never destroys the data we have (it may be the only copy of acknowledged commits).
    const target = this.config.dataDir;
    const clone = `${target}.clone`;
    await rm(clone, { recursive: true, force: true });
    await this.ensureDir(clone, 0o700);
    try {
      await this.run('pg_basebackup', [
        '-D', clone, '-h', from.host, '-p', String(from.port), '-U', REPLICATION_USER,
        '-w', '-X', 'stream', '-c', 'fast', '-P',
      ], {
        timeoutMs: this.options.basebackupTimeoutMs ?? 3_600_000,
        env: { PGPASSFILE: this.passfile, PGAPPNAME: `${this.config.name}_basebackup`, PGCONNECT_TIMEOUT: '5' },
        ...(onProgress ? { onLine: onProgress } : {}),
      });
    } catch (e) {
      await rm(clone, { recursive: true, force: true });
      throw e;
    }
    const old = `${target}.old`;
    await rm(old, { recursive: true, force: true });
    if (existsSync(target)) await rename(target, old);
    await rename(clone, target);
    await rm(old, { recursive: true, force: true });
    await chmod(target, 0o700);
    await this.afterCopy(from);
    await rm(this.cloneMarker, { force: true });
    this.log.info({ from: from.name }, 'basebackup done');
  }

  /** This member's pgBackRest (its own file, as the OS user, output scrubbed); throws when it does not archive. */
  private pgbackrest(): PgBackRest {
    this.pgb ??= memberPgBackRest(this.config, this.secrets);
    if (!this.pgb) throw new InvalidInputError(`member ${this.config.name} does not archive (no backup section in its config)`);
    return this.pgb;
  }

  async backupInfo(timeoutMs: number): Promise<StanzaInfo> {
    const pgb = this.pgbackrest();
    await this.ensureRunDir();
    const r = await pgb.run(['info', '--output=json'], { timeoutMs });
    return parseStanzaInfo(r.stdout, pgb.stanza);
  }

  async restore(from: Upstream, backupId: string, onProgress?: (line: string) => void): Promise<void> {
    await this.assertStopped('restore from a backup');
    const pgb = this.pgbackrest();
    await this.ensureRunDir();
    // From here until Ballast's files are back the directory counts as absent (see hasDataDir).
    await this.writeOwned(this.cloneMarker, `${backupId}\n`);
    const d = this.config.dataDir;
    // --delta trusts a directory that holds PG_VERSION (or the manifest of an interrupted
    // restore); anything else is no data directory worth keeping, and pgBackRest refuses to
    // restore into it when it is not empty.
    if (existsSync(join(d, 'PG_VERSION')) || existsSync(join(d, 'backup.manifest'))) await this.ensureDir(d, 0o700);
    else await this.freshDataDir();
    // assertStopped found no live postmaster: a pid file left by a crash would stop pgBackRest.
    await rm(join(d, 'postmaster.pid'), { force: true });
    await pgb.run(restoreCloneArgs(backupId), {
      timeoutMs: this.options.restoreTimeoutMs ?? 24 * 3600_000,
      onLine: (line) => {
        const m = /P\d+\s+INFO: (.*)$/.exec(line);
        if (m && onProgress && !/command (begin|end)/.test(m[1] as string)) onProgress(`pgbackrest restore: ${m[1]}`);
      },
    });
    // pgBackRest's restore_command goes; Ballast's (postgresql.conf) is the one that stays.
    await dropRecoverySettings(d);
    await this.afterCopy(from);
    await rm(this.cloneMarker, { force: true });
    this.log.info({ from: from.name, backup: backupId }, 'restore from the backup done');
  }

  async rewind(from: Upstream): Promise<void> {
    await this.assertStopped('run pg_rewind');
    if (!(await this.hasDataDir())) throw new InvalidInputError('cannot rewind: no data directory');
    await this.ensureRunDir();
    // Single-user crash recovery (run by pg_rewind on an unclean target) refuses standby mode.
    await rm(join(this.config.dataDir, 'standby.signal'), { force: true });
    const source = renderConninfo({
      host: from.host, port: from.port, user: SUPERUSER, dbname: 'postgres', passfile: this.passfile, connect_timeout: 5,
    });
    await this.checkpointSourceIfStale(from);
    try {
      await this.run('pg_rewind', ['-D', this.config.dataDir, `--source-server=${source}`], {
        timeoutMs: this.options.rewindTimeoutMs ?? 600_000,
        env: { PGAPPNAME: `${this.config.name}_rewind` },
      });
    } catch (e) {
      // Whatever is left must never start as a primary: put standby mode back before reporting.
      await this.writeDynamicConfig({ kind: 'standby', upstream: from }).catch(() => undefined);
      throw e;
    }
    await this.afterCopy(from);
    this.log.info({ from: from.name }, 'pg_rewind done');
  }

  /**
   * pg_rewind reads the source's timeline from its pg_control, which lags a promotion until the
   * next checkpoint. If the source's checkpoint timeline is behind its WAL timeline, checkpoint it.
   */
  private async checkpointSourceIfStale(from: Upstream): Promise<void> {
    const client = new pg.Client({
      host: from.host, port: from.port, user: SUPERUSER, password: this.secrets.superuserPassword,
      database: 'postgres', application_name: `${this.config.name}_rewind`, connectionTimeoutMillis: 5000,
      statement_timeout: 120_000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const r = await client.query<{ stale: boolean }>(`SELECT NOT pg_is_in_recovery() AND
        (SELECT timeline_id FROM pg_control_checkpoint()) <>
        ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS stale`);
      if (r.rows[0]?.stale === true) {
        this.log.info({ from: from.name }, 'checkpointing the rewind source (its pg_control predates its promotion)');
        await client.query('CHECKPOINT');
      }
    } catch (e) {
      throw new CommandFailedError(`cannot prepare the rewind source ${from.name}: ${errorMessage(e)}`, { cause: e });
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * After pg_basebackup/pg_rewind the data dir holds the source's config files: put ours back and
   * make it a standby of the source, so it can never start as a second primary by accident.
   */
  private async afterCopy(from: Upstream): Promise<void> {
    await rm(join(this.config.dataDir, DYNAMIC_CONF), { force: true });
    await this.writeStaticConfig();
    await this.writeDynamicConfig({ kind: 'standby', upstream: from });
  }

  async restartWalReceiver(): Promise<number | null> {
    const postmaster = await this.postmasterPid();
    if (postmaster === null) return null;
    const children = await readFile(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').catch(() => '');
    for (const pid of children.split(/\s+/).filter(Boolean).map(Number)) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (!cmdline.startsWith('postgres: ') || !cmdline.includes('walreceiver')) continue;
      try {
        process.kill(pid, 'SIGTERM');
        return pid;
      } catch {
        return null;
      }
    }
    return null;
  }

  async timelineHistory(tli: number): Promise<string | null> {
    const name = `${tli.toString(16).toUpperCase().padStart(8, '0')}.history`;
    try {
      return await readFile(join(this.config.dataDir, 'pg_wal', name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async controlData(): Promise<ControlData> {
    const { stdout } = await this.run('pg_controldata', ['-D', this.config.dataDir], { timeoutMs: 10_000 });
    const field = (label: string): string => {
      const line = stdout.split('\n').find((l) => l.startsWith(`${label}:`));
      if (line === undefined) throw new CommandFailedError(`pg_controldata output lacks "${label}"`);
      return line.slice(label.length + 1).trim();
    };
    return {
      state: field('Database cluster state'),
      timeline: Number(field("Latest checkpoint's TimeLineID")),
      checkpointLsn: field('Latest checkpoint location'),
      systemId: field('Database system identifier'),
    };
  }

  // ---- process -------------------------------------------------------------------------

  async postmasterPid(): Promise<number | null> {
    const text = await readFile(join(this.config.dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
    if (text === null) return null;
    const pid = Number((text.split('\n')[0] ?? '').trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') return null;
    }
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
    if (cmdline === null) return null;
    return cmdline.split('\0').includes(this.config.dataDir) ? pid : null;
  }

  async start(timeoutMs: number): Promise<void> {
    const running = await this.postmasterPid();
    if (running !== null) {
      this.log.info({ pid: running }, 'postgres already running');
      await this.waitReady(timeoutMs, () => null);
      return;
    }
    await this.ensureRunDir();
    await writeFile(this.logFile, '', { flag: 'a', mode: 0o600 });
    await this.own(this.logFile);
    const child = spawnDetached(this.bin('postgres'), ['-D', this.config.dataDir], {
      identity: this.identity,
      logPath: this.logFile,
      cwd: this.config.runDir,
    });
    let exited: string | null = null;
    child.once('exit', (code, signal) => {
      exited = signal ? `signal ${signal}` : `exit ${code}`;
    });
    child.once('error', (e) => {
      exited = `spawn error: ${e.message}`;
    });
    this.log.info({ pid: child.pid }, 'postgres spawned');
    await this.waitReady(timeoutMs, () => exited);
  }

  private async logTail(): Promise<string> {
    return tail(await this.logEnd(16_384), 15);
  }

  async logEnd(bytes: number): Promise<string> {
    let fh: Awaited<ReturnType<typeof open>> | null = null;
    try {
      fh = await open(this.logFile, 'r');
      const size = (await fh.stat()).size;
      const len = Math.min(size, bytes);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf.toString('utf8');
    } catch {
      return '';
    } finally {
      await fh?.close();
    }
  }

  private async waitReady(timeoutMs: number, exited: () => string | null): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const how = exited();
      if (how !== null) throw new CommandFailedError(`postgres exited during start (${how}):\n${await this.logTail()}`);
      try {
        await this.withClient(async (c) => c.query('SELECT 1'), 1000);
        return;
      } catch (e) {
        last = errorMessage(e);
      }
      if (Date.now() >= deadline) {
        throw new TimeoutError(`postgres did not accept connections within ${timeoutMs} ms (${last}); it may still be starting:\n${await this.logTail()}`);
      }
      await sleep(100);
    }
  }

  async stop(mode: 'fast' | 'immediate', timeoutMs: number): Promise<void> {
    if ((await this.postmasterPid()) === null) return;
    await this.closePool();
    const secs = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
    const pgCtl = (m: string) =>
      this.run('pg_ctl', ['stop', '-D', this.config.dataDir, '-m', m, '-w', '-t', secs], { timeoutMs: timeoutMs + 5000 });
    try {
      await pgCtl(mode);
    } catch (e) {
      if ((await this.postmasterPid()) === null) return;
      if (mode === 'immediate') throw e;
      this.log.warn({ err: errorMessage(e) }, 'fast shutdown did not finish; stopping immediately');
      await pgCtl('immediate');
    }
  }

  // ---- SQL -----------------------------------------------------------------------------

  private localConnection(statementTimeoutMs: number): pg.ClientConfig {
    return {
      host: this.config.runDir,
      port: this.config.port,
      user: SUPERUSER,
      database: 'postgres',
      application_name: 'ballast-agent',
      connectionTimeoutMillis: 1000,
      statement_timeout: statementTimeoutMs,
    };
  }

  private getPool(): pg.Pool {
    if (this.pool === null) {
      const pool = new pg.Pool({ ...this.localConnection(2000), max: 2, idleTimeoutMillis: 10_000 });
      // Idle clients die when postgres stops; without a listener that would crash the agent.
      pool.on('error', (e) => this.log.debug({ err: e.message }, 'idle postgres connection closed'));
      // ... and a checked-out client whose server dies mid-query emits 'error' itself, which the
      // pool does not cover: without this the agent died of an unhandled 57P01 (chaos runs).
      pool.on('connect', (client) => client.on('error', (e) => this.log.debug({ err: e.message }, 'postgres connection closed while in use')));
      this.pool = pool;
    }
    return this.pool;
  }

  private async closePool(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool) await pool.end().catch(() => undefined);
  }

  /** Query through the pool, retrying once on a fresh connection (a pooled one may be dead). */
  private async poolQuery<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.getPool().connect();
      } catch (e) {
        throw new PostgresUnavailableError(`cannot connect to local postgres: ${errorMessage(e)}`, { cause: e });
      }
      try {
        const r = await client.query<R>(sql, params);
        client.release();
        return r;
      } catch (e) {
        client.release(true);
        const sqlState = (e as { code?: string }).code;
        const isSqlError = typeof sqlState === 'string' && /^[0-9A-Z]{5}$/.test(sqlState) && !sqlState.startsWith('57') && !sqlState.startsWith('08');
        if (isSqlError) throw e;
        if (attempt >= 1) throw new PostgresUnavailableError(`local postgres query failed: ${errorMessage(e)}`, { cause: e });
      }
    }
  }

  /** A dedicated connection over the local socket (for long statements: promote, CREATE DATABASE). */
  private async withClient<T>(fn: (c: pg.Client) => Promise<T>, statementTimeoutMs: number, database = 'postgres'): Promise<T> {
    const client = new pg.Client({ ...this.localConnection(statementTimeoutMs), database });
    client.on('error', () => undefined);
    try {
      try {
        await client.connect();
      } catch (e) {
        throw new PostgresUnavailableError(`cannot connect to local postgres: ${errorMessage(e)}`, { cause: e });
      }
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async checkpoint(): Promise<void> {
    await this.withClient(async (c) => c.query('CHECKPOINT'), 120_000);
  }

  async reload(): Promise<void> {
    await this.poolQuery('SELECT pg_reload_conf()');
  }

  /**
   * pg_promote(wait => false), then poll every 10 ms until recovery ended (pg_promote's own wait
   * polls every 100 ms). No CHECKPOINT here: until the spread end-of-recovery checkpoint completes
   * pg_control shows the old timeline, and a rewinder checkpoints this server itself first
   * (checkpointSourceIfStale), so the promotion is not delayed by it.
   */
  async promote(timeoutMs: number): Promise<void> {
    await this.withClient(async (c) => {
      const inRecovery = async () => (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r === true;
      if (!(await inRecovery())) return;
      const r = await c.query<{ ok: boolean }>('SELECT pg_promote(false) AS ok');
      if (r.rows[0]?.ok !== true) throw new CommandFailedError('pg_promote() refused to signal the promotion');
      const end = Date.now() + timeoutMs;
      while (await inRecovery()) {
        if (Date.now() > end) throw new TimeoutError(`promotion did not complete within ${timeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 10));
      }
    }, timeoutMs + 5000);
    this.log.info('promoted');
  }

  async observe(): Promise<PgObservation> {
    let row: ObserveRow | undefined;
    try {
      row = (await this.poolQuery<ObserveRow>(OBSERVE_SQL)).rows[0];
    } catch (e) {
      if (e instanceof PostgresUnavailableError) throw e;
      throw new PostgresUnavailableError(`observing postgres failed: ${errorMessage(e)}`, { cause: e });
    }
    if (!row) throw new PostgresUnavailableError('observation query returned no row');
    return toObservation(row);
  }

  async observeArchive(): Promise<ArchiverFacts> {
    const row = (await this.poolQuery<ArchiveRow>(ARCHIVE_SQL)).rows[0];
    if (!row) throw new PostgresUnavailableError('archive observation query returned no row');
    return toArchiverFacts(row);
  }

  async syncSlots(wanted: string[]): Promise<void> {
    for (const s of wanted) if (!SLOT_NAME.test(s)) throw new InvalidInputError(`invalid slot name ${JSON.stringify(s)}`);
    const rec = await this.poolQuery<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    if (rec.rows[0]?.r !== false) return;
    const have = await this.poolQuery<{ slot_name: string; active: boolean }>(
      "SELECT slot_name, active FROM pg_replication_slots WHERE slot_type = 'physical'",
    );
    const names = new Set(have.rows.map((r) => r.slot_name));
    for (const s of wanted) {
      if (names.has(s)) continue;
      await this.poolQuery('SELECT pg_create_physical_replication_slot($1, true)', [s]);
      this.log.info({ slot: s }, 'created replication slot');
    }
    for (const r of have.rows) {
      if (!r.slot_name.startsWith('ballast_') || wanted.includes(r.slot_name) || r.active) continue;
      await this.poolQuery('SELECT pg_drop_replication_slot($1)', [r.slot_name]);
      this.log.info({ slot: r.slot_name }, 'dropped replication slot');
    }
  }

  async ensureRoles(): Promise<void> {
    const primary = await this.withClient(async (c) => {
      const rec = await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      if (rec.rows[0]?.r !== false) return false;
      // Verifiers are not passwords, but keep them out of the server log all the same.
      await c.query("SET log_min_error_statement = 'panic'");
      await c.query("SET log_statement = 'none'");
      // Never wait for a synchronous standby here: right after a promotion the standbys may not
      // stream yet, and a role lost with a primary is re-ensured by the next one.
      await c.query('SET synchronous_commit = local');
      const roles: { name: string; password: string; attrs: string }[] = [
        { name: SUPERUSER, password: this.secrets.superuserPassword, attrs: 'LOGIN SUPERUSER' },
        { name: REPLICATION_USER, password: this.secrets.replicationPassword, attrs: 'LOGIN REPLICATION' },
        { name: APP_USER, password: this.secrets.appPassword, attrs: 'LOGIN CREATEDB' },
      ];
      for (const role of roles) {
        const cur = await c.query<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role.name]);
        const ident = pg.escapeIdentifier(role.name);
        if (cur.rows.length === 0) {
          await c.query(`CREATE ROLE ${ident} ${role.attrs} PASSWORD ${pg.escapeLiteral(scramVerifier(role.password))}`);
          this.log.info({ role: role.name }, 'created role');
        } else if (!scramVerifierMatches(cur.rows[0]?.rolpassword ?? null, role.password)) {
          await c.query(`ALTER ROLE ${ident} ${role.attrs} PASSWORD ${pg.escapeLiteral(scramVerifier(role.password))}`);
          this.log.info({ role: role.name }, 'updated role password');
        }
      }
      const db = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [APP_DATABASE]);
      if (db.rows.length === 0) {
        await c.query(`CREATE DATABASE ${pg.escapeIdentifier(APP_DATABASE)} OWNER ${pg.escapeIdentifier(APP_USER)}`);
        this.log.info({ database: APP_DATABASE }, 'created database');
      }
      return true;
    }, 60_000);
    if (!primary) return;
    for (const database of ['template1', APP_DATABASE]) {
      await this.withClient(async (c) => {
        if (await ensureWaitForLsn(c)) this.log.info({ database }, 'installed ballast_wait_for_lsn (read-your-writes on replicas)');
      }, 60_000, database);
    }
  }

  /**
   * Can we run a query on `target`'s postgres within timeoutMs? The probe keeps one connection
   * open and reuses it (a new connection per probe cost a backend fork and a SCRAM exchange five
   * times a second per standby); a broken or slow connection is dropped and the next probe
   * connects afresh, so a dead or frozen primary is seen within one timeout either way.
   */
  async probe(target: Upstream, timeoutMs: number): Promise<boolean> {
    const key = `${target.host}:${target.port}`;
    if (this.probeConn !== null && this.probeConn.key !== key) this.dropProbe();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const attempt = (async () => {
      if (this.probeConn === null) {
        const client = new pg.Client({
          host: target.host,
          port: target.port,
          user: REPLICATION_USER,
          password: this.secrets.replicationPassword,
          database: 'postgres',
          application_name: `${this.config.name}_probe`,
          connectionTimeoutMillis: timeoutMs,
          statement_timeout: timeoutMs,
          keepAlive: true,
        });
        client.on('error', () => this.dropProbe(client));
        this.probeConn = { key, client };
        await client.connect();
      }
      await this.probeConn.client.query('SELECT 1');
      return true;
    })().catch(() => false);
    try {
      const ok = await Promise.race([attempt, timeout]);
      if (!ok) this.dropProbe();
      return ok;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Forget the probe connection (only `which`, when given); closing is not awaited (a frozen peer never answers). */
  private dropProbe(which?: pg.Client): void {
    const conn = this.probeConn;
    if (conn === null || (which !== undefined && conn.client !== which)) return;
    this.probeConn = null;
    void conn.client.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.dropProbe();
    await this.closePool();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- observation -------------------------------------------------------------------------

/** One round-trip; primary-only and standby-only functions are guarded by CASE at run time. */
const OBSERVE_SQL = `
SELECT r.rec AS in_recovery,
  CASE WHEN r.rec THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
  CASE WHEN r.rec THEN pg_last_wal_receive_lsn()::text ELSE pg_current_wal_flush_lsn()::text END AS flush_lsn,
  CASE WHEN r.rec THEN pg_last_wal_receive_lsn()::text END AS receive_lsn,
  CASE WHEN r.rec THEN pg_last_wal_replay_lsn()::text END AS replay_lsn,
  CASE WHEN r.rec THEN NULL
       ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS wal_tli,
  (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli,
  (SELECT system_identifier::text FROM pg_control_system()) AS system_id,
  current_setting('synchronous_standby_names') AS sync_names,
  (SELECT coalesce(json_agg(json_build_object(
      'name', application_name, 'state', state, 'syncState', sync_state,
      'flushLsn', flush_lsn::text, 'replayLsn', replay_lsn::text,
      'replayLagMs', (extract(epoch FROM replay_lag) * 1000)::float8)
      ORDER BY application_name), '[]'::json)
     FROM pg_stat_replication) AS replication,
  (SELECT row_to_json(w) FROM (SELECT status, sender_host, sender_port, received_tli
     FROM pg_stat_wal_receiver) w) AS receiver,
  (SELECT coalesce(json_agg(slot_name::text ORDER BY slot_name), '[]'::json)
     FROM pg_replication_slots WHERE slot_type = 'physical') AS slots
FROM (SELECT pg_is_in_recovery() AS rec) r`;

/** WAL archiving facts (pg_stat_archiver, segments still marked .ready); sampled far less often than OBSERVE_SQL. */
const ARCHIVE_SQL = `
SELECT current_setting('archive_mode') AS archive_mode,
  (SELECT row_to_json(a) FROM (SELECT archived_count, last_archived_wal, failed_count, last_failed_wal,
      (extract(epoch FROM last_archived_time) * 1000)::float8 AS last_archived_ms,
      (extract(epoch FROM last_failed_time) * 1000)::float8 AS last_failed_ms
     FROM pg_stat_archiver) a) AS archiver,
  (SELECT row_to_json(w) FROM (SELECT count(*)::int AS n, min(name) AS oldest,
      (extract(epoch FROM min(modification)) * 1000)::float8 AS oldest_ms
     FROM pg_ls_archive_statusdir() WHERE name ~ '^[0-9A-F]{24}(\\.partial)?\\.ready$') w) AS ready`;

interface ObserveRow {
  in_recovery: boolean;
  current_lsn: LsnText | null;
  flush_lsn: LsnText | null;
  receive_lsn: LsnText | null;
  replay_lsn: LsnText | null;
  wal_tli: number | null;
  checkpoint_tli: number;
  system_id: string;
  sync_names: string;
  replication: ReplicationPeer[];
  receiver: { status: string; sender_host: string | null; sender_port: number | null; received_tli: number | null } | null;
  slots: string[];
}

interface ArchiveRow {
  archive_mode: string;
  archiver: {
    archived_count: number; last_archived_wal: string | null; failed_count: number; last_failed_wal: string | null;
    last_archived_ms: number | null; last_failed_ms: number | null;
  } | null;
  ready: { n: number; oldest: string | null; oldest_ms: number | null } | null;
}

function toObservation(row: ObserveRow): PgObservation {
  const receiver = row.receiver
    ? {
        status: row.receiver.status,
        senderHost: row.receiver.sender_host,
        senderPort: row.receiver.sender_port,
        receivedTli: row.receiver.received_tli,
      }
    : null;
  // On a primary the checkpoint's timeline is stale right after promotion; the WAL file name is not.
  const timeline = row.in_recovery
    ? (receiver?.receivedTli ?? row.checkpoint_tli)
    : (row.wal_tli ?? row.checkpoint_tli);
  return {
    inRecovery: row.in_recovery,
    timeline,
    systemId: row.system_id,
    currentLsn: row.current_lsn,
    flushLsn: row.flush_lsn,
    receiveLsn: row.receive_lsn,
    replayLsn: row.replay_lsn,
    syncStandbyNames: parseSyncStandbyNames(row.sync_names),
    replication: row.replication.map((p) => ({
      name: p.name,
      state: p.state,
      syncState: p.syncState,
      flushLsn: p.flushLsn,
      replayLsn: p.replayLsn,
      replayLagMs: p.replayLagMs === null ? null : Math.round(p.replayLagMs),
    })),
    receiver,
    slots: row.slots,
  };
}

function toArchiverFacts(row: ArchiveRow): ArchiverFacts {
  return {
    mode: row.archive_mode,
    archivedCount: Number(row.archiver?.archived_count ?? 0),
    lastArchivedWal: row.archiver?.last_archived_wal ?? null,
    lastArchivedAt: row.archiver?.last_archived_ms == null ? null : Math.round(row.archiver.last_archived_ms),
    failedCount: Number(row.archiver?.failed_count ?? 0),
    lastFailedWal: row.archiver?.last_failed_wal ?? null,
    lastFailedAt: row.archiver?.last_failed_ms == null ? null : Math.round(row.archiver.last_failed_ms),
    oldestReady: row.ready?.oldest ? row.ready.oldest.replace(/\.ready$/, '') : null,
    oldestReadyAt: row.ready?.oldest_ms == null ? null : Math.round(row.ready.oldest_ms),
    readyCount: row.ready?.n ?? 0,
  };
}
