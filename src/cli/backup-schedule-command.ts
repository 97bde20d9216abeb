// `ballast backup schedule`: show the backup schedule and retention in force (with the next run of
// each type, the last runs and a running claim), and with flags change them in the cluster spec.
// Flags are checked before anything is read or written (bad usage changes nothing).
import { backupSpecOf, describeRetention, validateBackupSpec, RETENTION_DAYS_MAX, RETENTION_FULL_MAX, type BackupSpec } from '../backup/backup-spec.js';
import { parseCron } from '../backup/schedule.js';
import { decideBackupPass, DEFAULT_SCHEDULER_TIMING, lastRunMs, nextDue } from '../backup/scheduler.js';
import { BallastError } from '../domain/errors.js';
import type { BackupRunResult, BackupRuns, BackupType } from '../domain/types.js';
import { parseIntArg } from './args.js';
import { renderTable } from './describe-table.js';
import { EXIT_OK, printJson, type Io } from './io.js';
import { resolveTarget, withStore, type TargetOptions } from './target.js';

export interface ScheduleFlags {
  full?: string;
  diff?: string;
  incr?: string;
  retentionFull?: string;
  retentionDays?: string;
  json?: boolean;
}

/** The changes the flags ask for, validated (pure). */
export interface ScheduleChange {
  schedule: Partial<BackupSpec['schedule']>;
  retention: Partial<BackupSpec['retention']>;
}

const TYPES: BackupType[] = ['full', 'diff', 'incr'];

export function parseScheduleFlags(o: ScheduleFlags): ScheduleChange | null {
  const change: ScheduleChange = { schedule: {}, retention: {} };
  for (const t of TYPES) {
    const v = o[t];
    if (v !== undefined) change.schedule[t] = parseCron(`--${t}`, v).text;
  }
  if (o.retentionFull !== undefined) change.retention.full = parseIntArg('--retention-full', o.retentionFull, 1, RETENTION_FULL_MAX);
  if (o.retentionDays !== undefined) {
    change.retention.days = o.retentionDays === 'none' ? null : parseIntArg('--retention-days (a number or none)', o.retentionDays, 1, RETENTION_DAYS_MAX);
  }
  const any = Object.keys(change.schedule).length + Object.keys(change.retention).length > 0;
  return any ? change : null;
}

/** Pure: the spec section after the change, validated as a whole. */
export function applyScheduleChange(current: BackupSpec, c: ScheduleChange): BackupSpec {
  return validateBackupSpec({ schedule: { ...current.schedule, ...c.schedule }, retention: { ...current.retention, ...c.retention } });
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

function resultJson(r: BackupRunResult | undefined): Record<string, unknown> | null {
  if (!r) return null;
  return { type: r.type, startedAt: iso(r.startedAt), finishedAt: iso(r.finishedAt), by: r.by, id: r.id, error: r.error, failures: r.failures };
}

/** `backup schedule --json`: {cluster, changed, schedule, retention, retentionText, next, lastOk, lastAttempt, running, now}. */
export function scheduleReport(cluster: string, spec: BackupSpec, runs: BackupRuns | null, now: number, changed: boolean): Record<string, unknown> {
  const last = runs ? lastRunMs(runs) : { full: null, diff: null, incr: null };
  const next = nextDue(spec.schedule, last);
  const decision = runs ? decideBackupPass({ spec, runs, now, self: '(cli)', timing: DEFAULT_SCHEDULER_TIMING }) : null;
  return {
    cluster,
    changed,
    schedule: spec.schedule,
    retention: spec.retention,
    retentionText: describeRetention(spec.retention),
    next: { full: iso(next.full), diff: iso(next.diff), incr: iso(next.incr) },
    lastOk: Object.fromEntries(TYPES.map((t) => [t, resultJson(runs?.ok[t])])),
    lastAttempt: Object.fromEntries(TYPES.map((t) => [t, resultJson(runs?.last[t])])),
    running: runs?.running ? { ...runs.running, since: iso(runs.running.since) } : null,
    coordinatorView: decision?.reason ?? 'the elected coordinator has not looked at the schedule yet (no backups/last document)',
    now: iso(now),
  };
}

function renderText(r: Record<string, unknown>, spec: BackupSpec, runs: BackupRuns | null, now: number): string {
  const next = r.next as Record<BackupType, string | null>;
  const when = (t: BackupType): string => {
    const n = next[t];
    if (n === null) return t === 'full' ? 'now (no full backup yet)' : 'after the first full backup';
    return Date.parse(n) <= now ? `due (since ${n})` : n;
  };
  const lastText = (x: BackupRunResult | undefined): string => (x ? `${iso(x.startedAt)} ${x.error === null ? (x.id ?? 'ok') : `FAILED (${x.failures}x): ${x.error}`}` : '-');
  const rows = TYPES.map((t) => [t, spec.schedule[t], when(t), lastText(runs?.ok[t]), lastText(runs?.last[t])]);
  const running = runs?.running ? `${runs.running.type} backup by ${runs.running.by} since ${iso(runs.running.since)}` : 'none';
  return [
    `${r.changed ? 'backup schedule changed' : 'backup schedule'} of cluster ${String(r.cluster)} (cron, UTC):`,
    renderTable(['TYPE', 'SCHEDULE', 'NEXT', 'LAST OK', 'LAST ATTEMPT'], rows),
    `retention: ${String(r.retentionText)}`,
    `running: ${running}`,
    `coordinator: ${String(r.coordinatorView)}`,
    '',
  ].join('\n');
}

export async function backupScheduleCommand(io: Io, o: TargetOptions & ScheduleFlags): Promise<number> {
  const change = parseScheduleFlags(o);
  const t = resolveTarget(o);
  const { report, spec, runs, now } = await withStore(t.endpoints, async (store) => {
    const snap = await store.readCluster(t.cluster);
    if (!snap.spec) throw new BallastError('NOT_FOUND', `cluster ${t.cluster} has no spec in etcd yet (start it with ballast up)`);
    let spec = backupSpecOf(snap.spec);
    if (change) {
      spec = applyScheduleChange(spec, change);
      await store.putSpec(t.cluster, { ...snap.spec, backups: spec });
    }
    const { runs } = await store.readBackupRuns(t.cluster);
    const now = Date.now();
    return { report: scheduleReport(t.cluster, spec, runs, now, change !== null), spec, runs, now };
  });
  if (o.json) printJson(io, report);
  else io.out(renderText(report, spec, runs, now));
  return EXIT_OK;
}
