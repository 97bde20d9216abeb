// Executes the agent's steps against postgres (via PgControl) and keeps the local facts
// (observation, lifecycle state, rejoin record) that status publishing reads.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AgentConfig } from '../domain/config.js';
import { errorMessage } from '../domain/errors.js';
import type { Logger } from '../domain/log.js';
import { isArchiveFailing, type ArchiverFacts } from '../domain/archive.js';
import type { PostgresState, RejoinRecord, TimelineSwitch } from '../domain/types.js';
import type { AgentState } from './agent.js';
import type { ControlData, PgControl, PgObservation, Upstream } from './pg-control.js';
import { upstreamKey, type LocalState, type Step } from './reconcile.js';
import {
  basebackupMessage, basebackupReason, chooseRestoreBackup, planClone, restoredMessage, restoreFailedMessage, type RepoAnswer,
} from './clone-plan.js';
import { walRemovedOnUpstream } from './pg-log.js';
import { PUBLISHED_HISTORY_ENTRIES, parseTimelineHistory } from './timeline.js';

type EventFn = (level: 'info' | 'warn' | 'error', message: string) => void;

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;
const PROMOTE_TIMEOUT_MS = 15_000;
const ARCHIVER_SAMPLE_MS = 1000;
/** `pgbackrest info` before a clone: an answer within this, or the clone uses pg_basebackup. */
const BACKUP_INFO_TIMEOUT_MS = 10_000;

/** Back-off before restart attempt n (1-based): 0, 0.5 s, 1 s, 2 s, then 5 s. */
export function restartBackoffMs(attempt: number): number {
  return attempt <= 1 ? 0 : Math.min(5000, 500 * 2 ** (attempt - 2));
}

/**
 * A long command error shortened for an event or a rejoin reason: its first line and its end.
 * Tool output ends with the cause (pg_rewind's "fatal: ...", postgres' FATAL/PANIC); the start
 * is boilerplate, so keeping only the head would drop the reason.
 */
export function briefError(text: string, max = 400): string {
  if (text.length <= max) return text;
  const first = (text.split('\n', 1)[0] ?? '').slice(0, 100);
  return `${first} [...] ${text.slice(-(max - first.length - 7)).trimStart()}`;
}

/** A multi-line tool error on one line (for an event or a rejoin reason). */
function oneLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' | ');
}

export class AgentExecutor {
  obs: PgObservation | null = null;
  pid: number | null = null;
  hasData = false;
  control: ControlData | null = null;
  pgState: PostgresState = 'absent';
  activity = 'starting';
  lastError: string | null = null;
  rejoin: RejoinRecord | null = null;
  fenced = false;
  downSince: number | null = null;
  private expectRunning = false;
  private busy: PostgresState | null = null;
  /** Running standby, not streaming: did its newest streaming attempt find the WAL removed? */
  private walRemoved = false;
  private walRemovedCheckedAt = 0;
  /** As primary: the newest entries of our timeline's history file (read once per timeline). */
  private history: { tli: number; entries: TimelineSwitch[] } | null = null;
  private controlReadAt = 0;
  /** Archiving facts, refreshed at most once a second (a directory listing: not every 100 ms pass). */
  private archiver: { facts: ArchiverFacts; at: number } | null = null;
  /** Was the newest WAL archive attempt failing at the last observation (null: unknown)? */
  private archiveFailing: boolean | null = null;

  constructor(
    private readonly config: AgentConfig,
    private readonly pg: PgControl,
    private readonly state: AgentState,
    private readonly log: Logger,
    private readonly event: EventFn,
  ) {}

  local(): LocalState {
    return {
      hasData: this.hasData,
      running: this.pid !== null,
      obs: this.obs,
      control: this.control,
      standbySignal: this.hasData && existsSync(join(this.config.dataDir, 'standby.signal')),
      walRemovedOnUpstream: this.walRemoved,
    };
  }

  /** For the status: our timeline's newest history entries while we are primary on it. */
  timelineHistory(): TimelineSwitch[] | null {
    const obs = this.obs;
    return obs !== null && !obs.inRecovery && this.history?.tli === obs.timeline ? this.history.entries : null;
  }

  healthy(): boolean {
    return this.pid !== null && this.obs !== null;
  }

  async observe(): Promise<void> {
    const now = performance.now();
    // Gather first, assign together: status is published concurrently and must never see a
    // half-updated observation (that showed up as one-sample "unhealthy" blips).
    const hasData = await this.pg.hasDataDir();
    const pid = await this.pg.postmasterPid();
    let obs: PgObservation | null = null;
    if (pid !== null) {
      try {
        obs = await this.pg.observe();
        obs = { ...obs, ...(await this.archiverFacts(now)) };
      } catch (e) {
        this.lastError = errorMessage(e);
      }
    }
    this.hasData = hasData;
    this.pid = pid;
    this.obs = obs;
    this.noteArchiving(obs);
    if (this.pid === null && this.expectRunning) {
      this.expectRunning = false;
      const m = this.state.mem;
      m.restartAttempts += 1;
      m.nextStartAt = now + restartBackoffMs(m.restartAttempts);
      this.event('warn', `postgres on ${this.config.name} died unexpectedly; restart attempt ${m.restartAttempts}`);
      this.pgState = 'crashed';
    }
    if (this.pid !== null) {
      this.expectRunning = true;
      this.pgState = this.obs ? 'running' : 'starting';
      this.control = null;
    } else if (!this.hasData) {
      this.pgState = 'absent';
      this.control = null;
    } else {
      if (this.pgState !== 'crashed') this.pgState = 'stopped';
      if (this.control === null || now - this.controlReadAt > 2000) {
        this.control = await this.pg.controlData().catch(() => null);
        this.controlReadAt = now;
      }
    }
    // A standby that is not streaming: look (once a second) at why its last attempt failed.
    if (pid === null || obs?.inRecovery === false || obs?.receiver?.status === 'streaming') this.walRemoved = false;
    else if (now - this.walRemovedCheckedAt >= 1000) {
      this.walRemovedCheckedAt = now;
      this.walRemoved = walRemovedOnUpstream(await this.pg.logEnd(32_768));
    }
    if (obs !== null && !obs.inRecovery && obs.timeline > 1 && this.history?.tli !== obs.timeline) {
      const text = await this.pg.timelineHistory(obs.timeline).catch(() => null);
      if (text !== null) this.history = { tli: obs.timeline, entries: parseTimelineHistory(text).slice(-PUBLISHED_HISTORY_ENTRIES) };
    }
    if (this.obs !== null) {
      this.downSince = null;
      this.state.mem.restartAttempts = 0;
    } else if (this.state.view?.primary != null && !(this.state.view.switchover?.phase === 'stopping' && this.state.view.switchover.from === this.config.name)) {
      this.downSince ??= now;
    }
  }

  /** The primary's newest probe of the backup repository (null: not probed / not primary). */
  repo: { reachable: boolean; error: string | null; at: number } | null = null;

  /** Record a repository probe; an event when the repository becomes unreachable or reachable again. */
  noteRepo(r: { reachable: boolean; error: string | null; at: number } | null): void {
    const before = this.repo?.reachable ?? null;
    this.repo = r;
    if (r === null) return;
    if (!r.reachable && before !== false) {
      this.event('error', `${this.config.name}: the backup repository is unreachable (${r.error ?? 'unknown error'}); writes continue, WAL waits in pg_wal (up to archive-push-queue-max) (code archive-repo-unreachable)`);
    } else if (r.reachable && before === false) {
      this.event('info', `${this.config.name}: the backup repository is reachable again; archiving catches up (code archive-repo-reachable)`);
    }
  }

  /** { archiver } from the cache, refreshed when older than a second; {} until the first sample. */
  private async archiverFacts(now: number): Promise<{ archiver?: ArchiverFacts }> {
    if (this.archiver === null || now - this.archiver.at >= ARCHIVER_SAMPLE_MS) {
      const facts = await this.pg.observeArchive().catch(() => null);
      if (facts !== null) this.archiver = { facts, at: now };
    }
    return this.archiver ? { archiver: this.archiver.facts } : {};
  }

  /** An event when WAL archiving starts failing, and when it works again. */
  private noteArchiving(obs: PgObservation | null): void {
    const a = obs?.archiver;
    // Only the primary pushes; a standby's archive_command "fails" until the primary's copy is there.
    if (!a || a.mode === 'off' || obs?.inRecovery !== false) {
      this.archiveFailing = null;
      return;
    }
    const failing = isArchiveFailing(a);
    if (failing && this.archiveFailing !== true) {
      this.event('error', `${this.config.name}: WAL archiving is failing (archive_command failed for ${a.lastFailedWal ?? '?'}); writes continue, unarchived WAL accumulates in pg_wal and point-in-time recovery past ${a.lastArchivedWal ?? 'the last archived segment'} is not possible until it recovers (code archive-failing)`);
    } else if (!failing && this.archiveFailing === true) {
      this.event('info', `${this.config.name}: WAL archiving works again (archived ${a.lastArchivedWal ?? '?'}) (code archive-recovered)`);
    }
    this.archiveFailing = failing;
  }

  /** Lifecycle to publish: a running step wins over the observed state. */
  lifecycle(): PostgresState {
    return this.busy ?? this.pgState;
  }

  async run(step: Step): Promise<void> {
    switch (step.kind) {
      case 'wait':
        this.activity = step.why;
        return;
      case 'initdb':
        return this.busyWith('initializing', 'initdb (bootstrap primary)', async () => {
          await this.pg.initdb();
          await this.pg.writeStaticConfig();
          this.event('info', `${this.config.name}: initialised a new cluster (initdb, data checksums on)`);
        });
      case 'basebackup':
        return this.busyWith('cloning', step.why, () => this.clone(step.from, step.why));
      case 'rewind':
        return this.busyWith('rewinding', step.why, () => this.rewindOrClone(step.from, step.why));
      case 'start':
        return this.start(step);
      case 'stop':
        return this.busyWith('stopping', step.why, async () => {
          this.expectRunning = false;
          if (step.why.startsWith('fencing')) {
            this.fenced = true;
            this.event('error', `${this.config.name}: ${step.why}; stopping postgres`);
          } else if ((step.thenRewind || step.thenClone) && this.obs?.inRecovery !== false) {
            this.event('info', `${this.config.name}: ${step.why}`);
          }
          await this.pg.stop(step.mode, STOP_TIMEOUT_MS);
          if (step.thenRewind) this.state.mem.needsRewind = true;
          if (step.thenClone) this.state.mem.needsClone = true;
          this.control = await this.pg.controlData().catch(() => null);
          this.controlReadAt = performance.now();
          this.pgState = 'stopped';
        });
      case 'promote':
        return this.busyWith('running', 'promoting', () => this.promote());
      case 'configure-primary':
        this.activity = `applying synchronous_standby_names [${step.syncStandbys.join(', ')}]`;
        await this.pg.writeDynamicConfig({ kind: 'primary', syncStandbys: step.syncStandbys });
        await this.pg.reload();
        return;
      case 'configure-standby':
        this.activity = `re-pointing to ${step.upstream.name}`;
        await this.configureStandby(step.upstream);
        await this.pg.reload();
        this.event('info', `${this.config.name}: now following ${step.upstream.name}`);
        return;
      case 'ensure-roles':
        await this.pg.ensureRoles();
        this.state.mem.rolesEnsured = true;
        return;
      case 'sync-slots':
        await this.pg.syncSlots(step.slots);
        return;
      case 'restart-walreceiver': {
        this.activity = step.why;
        this.state.mem.walReceiverRestartedAt = performance.now();
        const pid = await this.pg.restartWalReceiver();
        if (pid !== null) this.event('info', `${this.config.name}: ${step.why} (pid ${pid})`);
        return;
      }
      case 'checkpoint':
        // Once per switchover, in the background: it only saves time, and the stop step that
        // follows must not wait behind it (a fast shutdown during a checkpoint lets it finish).
        this.activity = step.why;
        this.state.mem.checkpointedFor = step.switchoverId;
        void this.pg.checkpoint().catch((e: unknown) => this.log.warn({ err: errorMessage(e) }, 'pre-switchover checkpoint failed'));
        return;
    }
  }

  private async busyWith(state: PostgresState, activity: string, body: () => Promise<void>): Promise<void> {
    this.busy = state;
    this.activity = activity;
    try {
      await body();
      this.lastError = null;
    } catch (e) {
      this.lastError = `${activity}: ${errorMessage(e)}`;
      this.log.error({ err: errorMessage(e) }, `failed: ${activity}`);
      throw e;
    } finally {
      this.busy = null;
    }
  }

  private async configureStandby(up: Upstream): Promise<void> {
    await this.pg.writeDynamicConfig({ kind: 'standby', upstream: up });
    this.state.mem.configuredUpstream = upstreamKey(up);
    this.state.mem.repointedAt = performance.now();
  }

  /**
   * Clone afresh from `from`: restore the newest backup with pgBackRest when the member archives
   * and one fits (see clone-plan.ts), else, or when that fails, pg_basebackup.
   */
  private async clone(from: Upstream, why: string): Promise<void> {
    const m = this.state.mem;
    const plan = planClone({
      archiving: this.config.backup !== undefined, now: performance.now(),
      restoreFailedAt: m.restoreFailedAt ?? null, restoredAt: m.restoredAt ?? null, streamingAt: m.streamingAt,
    });
    let notFromBackup = plan.method === 'basebackup' ? plan.because : null;
    if (plan.method === 'restore') {
      this.activity = 'looking for a backup to clone from (pgbackrest info)';
      const primarySystemId = this.state.members.find((s) => s.name === from.name)?.systemId ?? null;
      const choice = chooseRestoreBackup(await this.backupAnswer(), primarySystemId);
      if ('backup' in choice) {
        notFromBackup = await this.cloneByRestore(from, why, choice.backup.id);
        if (notFromBackup === null) return;
      } else {
        notFromBackup = choice.because;
      }
    }
    await this.cloneByBasebackup(from, basebackupReason(why, notFromBackup));
  }

  private async backupAnswer(): Promise<RepoAnswer> {
    try {
      return { info: await this.pg.backupInfo(BACKUP_INFO_TIMEOUT_MS) };
    } catch (e) {
      return { error: briefError(oneLine(errorMessage(e)), 300) };
    }
  }

  /** Restore `backupId` into the data dir; null when done, else why it failed (pg_basebackup follows). */
  private async cloneByRestore(from: Upstream, why: string, backupId: string): Promise<string | null> {
    const t0 = performance.now();
    this.rejoin = { method: 'restore', reason: `${why}; from the backup ${backupId}`, result: 'running', at: Date.now() };
    this.activity = `restoring the backup ${backupId} (pgbackrest restore --delta)`;
    try {
      await this.pg.restore(from, backupId, (line) => (this.activity = line));
    } catch (e) {
      this.state.mem.restoreFailedAt = performance.now();
      const failure = `restore from the backup ${backupId} failed after ${((performance.now() - t0) / 1000).toFixed(1)} s (${briefError(oneLine(errorMessage(e)), 300)})`;
      this.log.warn({ err: errorMessage(e), backup: backupId }, 'restore from the backup failed; falling back to pg_basebackup');
      this.event('warn', restoreFailedMessage(this.config.name, failure, from.name));
      return failure;
    }
    const tookMs = Math.round(performance.now() - t0);
    await this.clonedFrom(from);
    this.state.mem.restoredAt = performance.now();
    this.rejoin = { ...this.rejoin, result: 'ok', tookMs };
    this.event('info', restoredMessage(this.config.name, backupId, tookMs, from.name, why));
    return null;
  }

  /** A fresh clone (either path) is in place: it follows `from`, and nothing of the old data dir's state is owed. */
  private async clonedFrom(from: Upstream): Promise<void> {
    await this.configureStandby(from);
    this.state.mem.needsRewind = false;
    this.state.mem.needsClone = false;
    this.state.mem.streamedTli = null;
  }

  private async cloneByBasebackup(from: Upstream, reason: string): Promise<void> {
    const t0 = performance.now();
    this.rejoin = { method: 'basebackup', reason, result: 'running', at: Date.now() };
    await this.pg.basebackup(from, (line) => (this.activity = `pg_basebackup: ${line}`));
    const tookMs = Math.round(performance.now() - t0);
    await this.clonedFrom(from);
    this.rejoin = { ...this.rejoin, result: 'ok', tookMs };
    this.event('info', basebackupMessage(this.config.name, from.name, tookMs, reason));
  }

  private async rewindOrClone(from: Upstream, why: string): Promise<void> {
    this.rejoin = { method: 'rewind', reason: why, result: 'running', at: Date.now() };
    const t0 = performance.now();
    try {
      await this.pg.rewind(from);
      await this.configureStandby(from);
      this.state.mem.needsRewind = false;
      this.state.mem.streamedTli = null;
      this.rejoin = { ...this.rejoin, result: 'ok', tookMs: Math.round(performance.now() - t0) };
      this.event('info', `${this.config.name}: rejoined via pg_rewind from ${from.name} (${why})`);
    } catch (e) {
      if (!(await this.pg.probe(from, 1000))) {
        this.rejoin = { ...this.rejoin, result: 'failed' };
        throw new Error(`pg_rewind failed and ${from.name} is unreachable; will retry (no base backup from an unreachable source)`, { cause: e });
      }
      const msg = `pg_rewind failed (${briefError(errorMessage(e))}); falling back to a fresh base backup`;
      this.event('warn', `${this.config.name}: ${msg}`);
      this.busy = 'cloning';
      await this.clone(from, msg);
    }
  }

  private async start(step: Extract<Step, { kind: 'start' }>): Promise<void> {
    const view = this.state.view;
    if (step.role === 'primary') await this.pg.writeDynamicConfig({ kind: 'primary', syncStandbys: view?.syncStandbys ?? [] });
    const up = this.state.upstream();
    if (step.role === 'standby' && up) await this.configureStandby(up);
    await this.pg.writeStaticConfig();
    this.expectRunning = true;
    try {
      await this.busyWith('starting', step.why, () => this.pg.start(START_TIMEOUT_MS));
      // Until the next observation, publish 'starting', not the 'crashed' of before the restart
      // (a 'crashed' primary down for primaryRestartTimeoutMs is failed over).
      this.pgState = 'starting';
      this.fenced = false;
      // A standby that just came up gets its time to connect: the walreceiver-restart and rejoin
      // timers count from now, not from when it was configured before a slow start.
      if (step.role !== 'primary') this.state.mem.repointedAt = performance.now();
    } catch (e) {
      this.expectRunning = false;
      const m = this.state.mem;
      m.restartAttempts += 1;
      m.nextStartAt = performance.now() + restartBackoffMs(m.restartAttempts + 1);
      this.pgState = 'crashed';
      this.event('warn', `${this.config.name}: postgres failed to start (attempt ${m.restartAttempts}): ${briefError(errorMessage(e))}`);
    }
  }

  private async promote(): Promise<void> {
    const view = this.state.view!;
    // Synchronous names go in BEFORE promotion so the first commit on the new timeline already
    // waits for a standby; standby.signal must stay until postgres removes it itself.
    const up = this.state.mem.configuredUpstream;
    const last = up ? [...this.state.addresses.values()].find((a) => upstreamKey(a) === up) : undefined;
    if (last) {
      await this.pg.writeDynamicConfig({ kind: 'standby', upstream: last, syncStandbys: view.syncStandbys });
      await this.pg.reload();
    }
    await this.pg.promote(PROMOTE_TIMEOUT_MS);
    await this.pg.writeDynamicConfig({ kind: 'primary', syncStandbys: view.syncStandbys });
    await this.pg.reload();
    this.state.mem.configuredUpstream = null;
    this.state.mem.streamedTli = null;
    this.state.mem.rolesEnsured = false;
    this.rejoin = null;
    this.event('warn', `${this.config.name}: promoted to primary (view generation ${view.generation}; synchronous [${view.syncStandbys.join(', ')}])`);
  }
}
