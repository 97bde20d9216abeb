// Scheduled backups, run by the elected coordinator (only while it leads).
// Modes of one pass: idle (nothing due, or waiting: first-backup grace, retry back-off) ->
// claimed (`running: {type, by, since}` compare-and-swapped into /ballast/<cluster>/backups/last)
// -> running (the injected runner takes the backup) -> recorded (the result CAS-written, the
// claim cleared) -> idle. A claim younger than claimTimeoutMs held by another coordinator blocks
// (so a failover during a backup does not start a second one); an older one, or one of our own
// left by a previous process, is taken over. pgBackRest's own lock is the second safety net.
// Every decision is pure (decideBackupPass and the document helpers); BackupScheduler does I/O.
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../domain/errors.js';
import type { BackupClaim, BackupRunResult, BackupRuns, BackupSpec, BackupType, ClusterEvent } from '../domain/types.js';
import type { Store } from '../store/store.js';
import type { BackupRecord } from './backup-info.js';
import { backupSpecOf, validateBackupSpec } from './backup-spec.js';
import { dueBackup, nextRun, parseCron } from './schedule.js';

export interface SchedulerTiming {
  /** How often the leader looks (ms). */
  intervalMs: number;
  /** Another coordinator's claim younger than this blocks; an older one is taken over. */
  claimTimeoutMs: number;
  /** With no full backup known, wait this long after the document was created (`up` takes the first). */
  firstBackupGraceMs: number;
  /** Retry after a failure: retryBaseMs, doubling with each consecutive failure, at most retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
}

export const DEFAULT_SCHEDULER_TIMING: SchedulerTiming = {
  intervalMs: 30_000,
  claimTimeoutMs: 6 * 3600_000,
  firstBackupGraceMs: 10 * 60_000,
  retryBaseMs: 5 * 60_000,
  retryMaxMs: 4 * 3600_000,
};

export type LastRunMs = Record<BackupType, number | null>;
/** Newest good backup of each type in the repository. */
export type RepoNewest = Partial<Record<BackupType, { id: string; startedAt: number; finishedAt: number }>>;

export type BackupPass =
  | { kind: 'idle'; reason: string; /** No full backup known: the repository may hold the one `up` took. */ checkRepository?: boolean }
  | { kind: 'run'; type: BackupType; takeOver: BackupClaim | null; reason: string }
  | { kind: 'blocked'; type: BackupType; claim: BackupClaim; reason: string }
  | { kind: 'retry-wait'; type: BackupType; until: number; reason: string };

const TYPES: BackupType[] = ['full', 'diff', 'incr'];
const iso = (ms: number): string => new Date(ms).toISOString();
/** 'a full', 'a diff', 'an incr'. */
const aType = (t: BackupType): string => `${t === 'incr' ? 'an' : 'a'} ${t}`;

export function emptyRuns(now: number): BackupRuns {
  return { createdAt: now, ok: {}, last: {}, running: null };
}

/** Start times of the newest successful backup of each type: what the schedule counts from. */
export function lastRunMs(runs: BackupRuns): LastRunMs {
  return { full: runs.ok.full?.startedAt ?? null, diff: runs.ok.diff?.startedAt ?? null, incr: runs.ok.incr?.startedAt ?? null };
}

/** When each type is next due (null: no full backup yet for diff and incr; for full: due now). */
export function nextDue(schedule: BackupSpec['schedule'], last: LastRunMs): LastRunMs {
  const at = (field: BackupType, base: number | null): number | null => (base === null ? null : nextRun(parseCron(`backups.schedule.${field}`, schedule[field]), base));
  const incrBase = last.incr ?? (last.full === null ? null : Math.max(last.full, last.diff ?? last.full));
  return { full: at('full', last.full), diff: at('diff', last.diff ?? last.full), incr: at('incr', incrBase) };
}

/** Wait before retrying a type whose last attempt failed (`failures` consecutive failures, at least 1). */
export function retryDelayMs(failures: number, t: SchedulerTiming): number {
  return Math.min(t.retryMaxMs, t.retryBaseMs * 2 ** Math.max(0, Math.min(failures, 31) - 1));
}

/** How a claim stands for `self`: nothing, one it may take over, or one that blocks. */
export function judgeClaim(claim: BackupClaim | null, self: string, now: number, timeoutMs: number): 'none' | 'own' | 'stale' | 'blocking' {
  if (claim === null) return 'none';
  if (claim.by === self) return 'own'; // our process runs one backup at a time: this one is from a previous run
  return now - claim.since >= timeoutMs ? 'stale' : 'blocking';
}

export interface PassInput {
  spec: BackupSpec;
  runs: BackupRuns;
  now: number;
  /** This coordinator's id. */
  self: string;
  timing: SchedulerTiming;
}

/** Pure: what the leader does in this pass, with the reason. */
export function decideBackupPass(i: PassInput): BackupPass {
  const { runs, now, timing: t } = i;
  const last = lastRunMs(runs);
  const claim = runs.running;
  const claimNote = claim ? `; ${claim.by} runs ${aType(claim.type)} backup since ${iso(claim.since)}` : '';
  if (last.full === null && now < runs.createdAt + t.firstBackupGraceMs) {
    return { kind: 'idle', checkRepository: true, reason: `no full backup known yet: waiting until ${iso(runs.createdAt + t.firstBackupGraceMs)} for the one ballast up takes, then taking one${claimNote}` };
  }
  const type = dueBackup(i.spec.schedule, last, now);
  if (type === null) {
    const next = nextDue(i.spec.schedule, last);
    const soonest = TYPES.filter((x) => next[x] !== null).sort((a, b) => (next[a] as number) - (next[b] as number))[0];
    const when = soonest === undefined ? '' : `; next: ${soonest} at ${iso(next[soonest] as number)}`;
    return { kind: 'idle', reason: `no backup due${when}${claimNote}` };
  }
  const why = last[type] === null ? `no ${type} backup yet` : `the ${type} schedule '${i.spec.schedule[type]}' fired since the last one at ${iso(last[type] as number)}`;
  const judged = judgeClaim(claim, i.self, now, t.claimTimeoutMs);
  if (judged === 'blocking' && claim) {
    return { kind: 'blocked', type, claim, reason: `${type} backup due (${why}) but ${claim.by} has claimed ${aType(claim.type)} backup since ${iso(claim.since)} (younger than ${t.claimTimeoutMs / 60_000} min): not starting a second one` };
  }
  const attempt = runs.last[type];
  const ok = runs.ok[type];
  if (attempt && attempt.error !== null && (!ok || attempt.startedAt > ok.startedAt)) {
    const until = attempt.finishedAt + retryDelayMs(attempt.failures, t);
    if (now < until) {
      return { kind: 'retry-wait', type, until, reason: `${type} backup due (${why}) but it failed ${attempt.failures} time${attempt.failures === 1 ? '' : 's'} in a row (last: ${attempt.error}); retrying at ${iso(until)}` };
    }
  }
  const takeOver = judged === 'own' || judged === 'stale' ? claim : null;
  const over = takeOver ? `; taking over the ${judged === 'own' ? 'claim our previous process left' : `stale claim of ${takeOver.by} since ${iso(takeOver.since)}`}` : '';
  return { kind: 'run', type, takeOver, reason: `taking ${aType(type)} backup: ${why}${over}` };
}

export function claimRuns(runs: BackupRuns, claim: BackupClaim): BackupRuns {
  return { ...runs, running: claim };
}

/** Record a finished attempt; clears the claim only when it is this attempt's (`by`, `type`). */
export function recordResult(runs: BackupRuns, r: Omit<BackupRunResult, 'failures'>): BackupRuns {
  const prev = runs.last[r.type];
  const failures = r.error === null ? 0 : (prev && prev.error !== null ? prev.failures : 0) + 1;
  const result: BackupRunResult = { ...r, failures };
  const own = runs.running?.by === r.by && runs.running.type === r.type;
  return {
    ...runs,
    last: { ...runs.last, [r.type]: result },
    ok: r.error === null ? { ...runs.ok, [r.type]: result } : runs.ok,
    running: own ? null : runs.running,
  };
}

/** Newest good backup of each type among the repository's (pgbackrest info). */
export function newestInRepository(backups: Pick<BackupRecord, 'id' | 'type' | 'startedAt' | 'stoppedAt' | 'error'>[]): RepoNewest {
  const out: RepoNewest = {};
  for (const b of backups) {
    if (b.error) continue;
    const startedAt = Date.parse(b.startedAt);
    if (!Number.isFinite(startedAt) || (out[b.type]?.startedAt ?? -Infinity) >= startedAt) continue;
    out[b.type] = { id: b.id, startedAt, finishedAt: Date.parse(b.stoppedAt) };
  }
  return out;
}

/**
 * Backups the repository holds that are newer than the document knows (taken by `up`, by hand,
 * or by a run whose result was never written) become the newest successful ones. Returns the
 * same object when nothing changes.
 */
export function adoptRepoBackups(runs: BackupRuns, repo: RepoNewest): { runs: BackupRuns; adopted: string[] } {
  let ok = runs.ok;
  const adopted: string[] = [];
  for (const type of TYPES) {
    const r = repo[type];
    const known = ok[type];
    if (!r || known?.id === r.id || (known && known.startedAt >= r.startedAt)) continue;
    ok = { ...ok, [type]: { type, startedAt: r.startedAt, finishedAt: r.finishedAt, by: 'repository', id: r.id, error: null, failures: 0 } };
    adopted.push(`${type} ${r.id}`);
  }
  return adopted.length === 0 ? { runs, adopted } : { runs: { ...runs, ok }, adopted };
}

/** What takes the backups: the local deployment's (src/local/backup-run.ts) or a fake in tests. */
export interface BackupRunner {
  /** Take one backup (pgBackRest expires by the retention afterwards); throws when it fails. */
  run(type: BackupType): Promise<{ id: string }>;
  /** The repository's newest good backups; read only when the document says a backup is due or no full is known. */
  newest?(): Promise<RepoNewest>;
}

export type PassOutcome =
  | BackupPass
  | { kind: 'ran' | 'failed' | 'interrupted'; type: BackupType; reason: string }
  | { kind: 'lost-race' | 'invalid-spec' | 'not-leader' | 'error'; reason: string };

export interface BackupSchedulerOptions {
  store: Store;
  cluster: string;
  /** This coordinator's id (the claim's `by`). */
  id: string;
  runner: BackupRunner;
  now?: () => number;
  timing?: Partial<SchedulerTiming>;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

const RECORD_ATTEMPTS = 5;
const INTERRUPTED = 'the coordinator stopped during the backup (pgBackRest may still finish it; the repository is checked before the next one)';

export class BackupScheduler {
  private readonly t: SchedulerTiming;
  private readonly now: () => number;
  private readonly log: NonNullable<BackupSchedulerOptions['log']>;
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly stopSignal: Promise<'stopped'>;
  private loopDone: Promise<void> = Promise.resolve();
  /** Keys of events already written (one event per claim or per invalid spec). */
  private readonly told = new Set<string>();
  lastOutcome: PassOutcome | null = null;

  constructor(private readonly o: BackupSchedulerOptions) {
    this.t = { ...DEFAULT_SCHEDULER_TIMING, ...o.timing };
    this.now = o.now ?? Date.now;
    this.log = o.log ?? (() => undefined);
    this.stopSignal = new Promise((resolve) => this.abort.signal.addEventListener('abort', () => resolve('stopped'), { once: true }));
  }

  /** Run a pass every intervalMs while shouldRun() (the coordinator: while it leads). */
  start(shouldRun: () => boolean): void {
    this.loopDone = (async () => {
      let lastReason = '';
      while (!this.stopped) {
        if (shouldRun()) {
          const o = await this.pass(shouldRun).catch((e: unknown): PassOutcome => ({ kind: 'error', reason: `scheduled backups: pass failed: ${errorMessage(e)}` }));
          this.lastOutcome = o;
          if (o.reason !== lastReason) this.log(levelOf(o), o.reason);
          lastReason = o.reason;
        }
        await sleep(this.t.intervalMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    })();
  }

  /** Stop the loop. A backup in flight is recorded as interrupted and its claim released. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loopDone;
  }

  /** One pass: decide, and when a backup is due, claim, run and record it. */
  async pass(stillLeader: () => boolean = () => true): Promise<PassOutcome> {
    const { store, cluster, id } = this.o;
    const now = this.now();
    const snap = await store.readCluster(cluster);
    let spec: BackupSpec;
    try {
      spec = validateBackupSpec(backupSpecOf(snap.spec));
    } catch (e) {
      const reason = `scheduled backups stopped: the cluster spec is invalid: ${errorMessage(e)}; fix it with ballast backup schedule`;
      await this.eventOnce(`invalid:${errorMessage(e)}`, 'error', `${reason} (code backup-schedule-invalid)`);
      return { kind: 'invalid-spec', reason };
    }
    let { runs, revision } = await store.readBackupRuns(cluster);
    if (runs === null) {
      const fresh = emptyRuns(now);
      const rev = await store.writeBackupRun(cluster, fresh, revision);
      if (rev === null) return { kind: 'lost-race', reason: 'the backup document changed while creating it; re-reading next pass' };
      [runs, revision] = [fresh, rev];
    }
    let d = decideBackupPass({ spec, runs, now, self: id, timing: this.t });
    if ((d.kind === 'run' || (d.kind === 'idle' && d.checkRepository)) && this.o.runner.newest) {
      const repo = await this.o.runner.newest().catch((e: unknown) => {
        this.log('warn', `scheduled backups: could not list the repository's backups (${errorMessage(e)}); deciding from etcd alone`);
        return null;
      });
      const a = repo ? adoptRepoBackups(runs, repo) : { runs, adopted: [] };
      if (a.adopted.length > 0) {
        const rev = await store.writeBackupRun(cluster, a.runs, revision);
        if (rev === null) return { kind: 'lost-race', reason: 'the backup document changed while adopting backups from the repository; re-reading next pass' };
        [runs, revision] = [a.runs, rev];
        d = decideBackupPass({ spec, runs, now, self: id, timing: this.t });
        d = { ...d, reason: `found newer backups in the repository (${a.adopted.join(', ')}); ${d.reason}` };
      }
    }
    if (d.kind === 'blocked') {
      const c = d.claim;
      await this.eventOnce(`claim:${c.by}:${c.since}`, 'warn', `scheduled ${d.type} backup skipped: ${c.by} has claimed ${aType(c.type)} backup since ${iso(c.since)} (code backup-skipped-claim)`);
    }
    if (d.kind !== 'run') return d;
    if (this.stopped || !stillLeader()) return { kind: 'not-leader', reason: `${d.type} backup due but this coordinator stopped leading before claiming it` };
    const claim: BackupClaim = { type: d.type, by: id, since: now };
    if ((await store.writeBackupRun(cluster, claimRuns(runs, claim), revision)) === null) {
      return { kind: 'lost-race', reason: `another coordinator changed the backup document while claiming ${aType(d.type)} backup; re-reading next pass` };
    }
    if (d.takeOver && d.takeOver.by !== id) {
      await this.event('warn', `took over the stale claim of ${d.takeOver.by} (${aType(d.takeOver.type)} backup since ${iso(d.takeOver.since)}) (code backup-claim-taken-over)`);
    }
    this.log('info', d.reason);
    const running = this.o.runner.run(d.type).then(
      (r) => ({ id: r.id, error: null }),
      (e: unknown) => ({ id: null, error: errorMessage(e) }),
    );
    const raced = await Promise.race([running, this.stopSignal]);
    const r = raced === 'stopped' ? { id: null, error: INTERRUPTED } : raced;
    await this.record({ type: d.type, startedAt: now, finishedAt: this.now(), by: id, ...r });
    if (raced === 'stopped') {
      await this.event('warn', `scheduled ${d.type} backup interrupted: ${INTERRUPTED} (code backup-interrupted)`);
      return { kind: 'interrupted', type: d.type, reason: `${d.type} backup interrupted: ${INTERRUPTED}` };
    }
    if (r.error !== null) return { kind: 'failed', type: d.type, reason: `${d.type} backup failed: ${r.error}` };
    return { kind: 'ran', type: d.type, reason: `${d.type} backup ${r.id} done` };
  }

  /** CAS the result in, re-reading on a lost race; retries a down store a few times (not once stopped). */
  private async record(result: Omit<BackupRunResult, 'failures'>): Promise<void> {
    const { store, cluster } = this.o;
    for (let attempt = 1; attempt <= RECORD_ATTEMPTS; attempt++) {
      try {
        const { runs, revision } = await store.readBackupRuns(cluster);
        if ((await store.writeBackupRun(cluster, recordResult(runs ?? emptyRuns(result.startedAt), result), revision)) !== null) return;
      } catch (e) {
        this.log('warn', `scheduled backups: could not record the ${result.type} backup's result (attempt ${attempt}): ${errorMessage(e)}`);
        if (this.stopped) return;
        await sleep(1000 * attempt);
      }
    }
    this.log('error', `scheduled backups: gave up recording the ${result.type} backup's result; the claim stays until it is ${this.t.claimTimeoutMs / 60_000} min old`);
  }

  private async eventOnce(key: string, level: ClusterEvent['level'], message: string): Promise<void> {
    if (this.told.has(key)) return;
    this.told.add(key);
    await this.event(level, message);
  }

  private async event(level: ClusterEvent['level'], message: string): Promise<void> {
    await this.o.store
      .appendEvent(this.o.cluster, { at: this.now(), source: `coordinator:${this.o.id}`, level, message })
      .catch((e: unknown) => this.log('warn', `could not record event: ${errorMessage(e)}`));
  }
}

function levelOf(o: PassOutcome): 'info' | 'warn' | 'error' {
  if (o.kind === 'failed' || o.kind === 'invalid-spec' || o.kind === 'error') return 'error';
  if (o.kind === 'blocked' || o.kind === 'retry-wait' || o.kind === 'interrupted' || o.kind === 'lost-race') return 'warn';
  return 'info';
}
