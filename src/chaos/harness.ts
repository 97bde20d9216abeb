// One chaos run, start to finish: deploy -> wait healthy -> workload + probers -> faults (inject,
// hold, heal, wait until whole again) -> heal everything -> final read -> check -> report ->
// teardown (always, also when anything above throws).
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, closeSync, fstatSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError, errorMessage } from '../domain/errors.js';
import { sleep } from '../local/proc.js';
import { checkArchive, setUpBackups, switchWal, type ArchiveCheck } from './backup-check.js';
import { checkHistory, type CheckResult } from './checker.js';
import { Deployment, PG_HOSTS, memberOfHost, type UnexpectedExit } from './deploy.js';
import { FaultContext, injectFault, randomSchedule, type FaultStep } from './faults.js';
import { readHistory, type AckRecord, type FaultRecord, type ObserveSample } from './history.js';
import { newRunId } from './netns.js';
import { createRng } from './prng.js';
import { renderReportHtml } from './report-html.js';
import { RunRecord } from './run-state.js';
import type { Scenario } from './scenarios.js';
import { teardownRecord, type TeardownReport } from './teardown.js';

export interface ChaosRunOptions {
  dir: string;
  scenario: Scenario;
  seed: number;
  log: (line: string) => void;
  /** Wait for the cluster to be whole again after each fault (default 120 s). */
  recoverTimeoutMs?: number;
  /** Quiet time before the first fault and between faults (default 5 s / 3 s). */
  warmupMs?: number;
  settleMs?: number;
  /**
   * What "recovered" means before the next fault: 'whole' (default): one primary, every other
   * member streaming, a confirmed synchronous standby, a write acknowledged; 'writable': a
   * primary with a confirmed synchronous standby and a write acknowledged (a member may still be
   * rejoining; the quick CI run uses it).
   */
  recovery?: 'whole' | 'writable';
}

export interface ChaosReport {
  ok: boolean;
  runId: string;
  dir: string;
  scenario: string;
  seed: number;
  startedAt: number;
  endedAt: number;
  faults: FaultRecord[];
  check: CheckResult | null;
  /**
   * After the run: the archive restored to its end into a scratch instance; every acknowledged
   * write older than archive_timeout before the end must be in it (null: not checked).
   */
  backupCheck?: ArchiveCheck | null;
  /** Scenario expectations and harness problems (non-empty = failed). */
  problems: string[];
  teardown: TeardownReport | null;
  /** Components that exited on their own (restarted by the harness, as systemd would). */
  unexpectedExits: UnexpectedExit[];
  files: { json: string; html: string };
}

const MEMBERS = PG_HOSTS.map(memberOfHost);

function healthy(s: ObserveSample | null): s is Extract<ObserveSample, { ok: true }> {
  if (!s || !s.ok || s.primary === null) return false;
  const roles = Object.values(s.roles);
  return roles.filter((r) => r === 'primary').length === 1 && roles.filter((r) => r === 'sync' || r === 'async').length === MEMBERS.length - 1 && s.syncConfirmed.length > 0;
}

function writable(s: ObserveSample | null): boolean {
  return !!s && s.ok && s.primary !== null && s.roles[s.primary] === 'primary' && s.syncConfirmed.length > 0;
}

/** Acknowledgement time of the last acknowledged write in acks.jsonl (reads only its tail). */
export function lastAckAt(dir: string): number | null {
  const path = join(dir, 'acks.jsonl');
  if (!existsSync(path)) return null;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 16384);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const lines = buf.toString('utf8').split('\n').reverse();
    for (const l of lines) {
      try {
        const a = JSON.parse(l) as AckRecord;
        if (a.ok) return a.e;
      } catch {
        /* partial line */
      }
    }
    return null;
  } finally {
    closeSync(fd);
  }
}

export async function runChaos(opts: ChaosRunOptions): Promise<ChaosReport> {
  const { dir, log } = opts;
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new InvalidInputError(`${dir} is not empty; a chaos run needs a new or empty directory`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const runId = newRunId();
  const record = RunRecord.create(dir, runId);
  const dep = new Deployment(dir, record, log);
  const ctx = new FaultContext(dep, log);
  const rng = createRng(opts.seed);
  const faults: FaultRecord[] = [];
  const problems: string[] = [];
  let startedAt = Date.now();
  let endedAt = startedAt;
  let check: CheckResult | null = null;
  let backupCheck: ArchiveCheck | null = null;
  let backupsReady = false;
  let teardown: TeardownReport | null = null;
  const waitUntil = async (what: string, pred: () => boolean, timeoutMs: number): Promise<boolean> => {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (pred()) return true;
      await sleep(250);
    }
    log(`gave up waiting for ${what} after ${Math.round(timeoutMs / 1000)} s`);
    return false;
  };
  try {
    log(`run ${runId}: deploying into ${dir}`);
    await dep.create();
    dep.startCluster();
    if (!(await waitUntil('a healthy cluster', () => healthy(ctx.latest()), 240_000))) throw new Error('the cluster never became healthy');
    log(`cluster healthy: primary ${ctx.primary()}, sync ${ctx.view().syncStandbys.join(',')}`);
    try {
      await setUpBackups(dep.backup, log);
      backupsReady = true;
    } catch (e) {
      problems.push(`backups could not be set up (stanza-create, first full backup): ${errorMessage(e).slice(0, 500)}`);
    }
    dep.start('worker workload');
    for (const m of MEMBERS) dep.start(`worker prober ${m}`);
    if (!(await waitUntil('the first acknowledged write', () => lastAckAt(dir) !== null, 60_000))) throw new Error('the workload never got a write acknowledged');
    startedAt = Date.now();
    await sleep(opts.warmupMs ?? 5000);
    const primaryBefore = ctx.primary();
    for (const [i, step] of opts.scenario.steps.entries()) {
      // Every fault starts from a whole cluster (or says it did not).
      const ready = opts.recovery === 'writable' ? writable : healthy;
      const whole = await waitUntil('a whole cluster before the fault', () => ready(ctx.latest()), 60_000);
      const rec: FaultRecord = { seq: i + 1, name: step.fault, target: '', at: Date.now(), healedAt: null, recoveredAt: null, notes: [] };
      if (!whole) rec.notes.push('the cluster was not whole when this fault was injected');
      faults.push(rec);
      try {
        const inj = await injectFault(ctx, step, rng);
        // The fault counts from when it took effect (rules applied, signal sent).
        rec.at = inj.effectiveAt ?? Date.now();
        rec.target = inj.target;
        rec.notes.push(...inj.notes);
        log(`fault ${rec.seq}/${opts.scenario.steps.length}: ${step.fault}: ${inj.target}${inj.notes.length ? ` (${inj.notes.join('; ')})` : ''}`);
        await sleep(step.holdMs);
        if (inj.heal) {
          await inj.heal();
          rec.healedAt = Date.now();
          log(`healed ${step.fault} after ${Math.round((rec.healedAt - rec.at) / 1000)} s`);
        }
      } catch (e) {
        rec.notes.push(`injection failed: ${errorMessage(e)}`);
        problems.push(`fault ${rec.seq} (${step.fault}) could not be injected: ${errorMessage(e)}`);
        log(`fault ${rec.seq}: ${step.fault} could not be injected: ${errorMessage(e)}`);
      }
      const since = Date.now();
      const ok = await waitUntil('the cluster to be whole again', () => ready(ctx.latest()) && (lastAckAt(dir) ?? 0) > since, opts.recoverTimeoutMs ?? 120_000);
      rec.recoveredAt = ok ? Date.now() : null;
      if (!ok) problems.push(`fault ${rec.seq} (${step.fault}): the cluster was not whole again within ${Math.round((opts.recoverTimeoutMs ?? 120_000) / 1000)} s of healing`);
      else log(`recovered: primary ${ctx.primary()}`);
      await sleep(opts.settleMs ?? 3000);
    }
    if (opts.scenario.expectNoFailover) {
      const after = ctx.latest();
      const primaryAfter = after?.ok ? after.primary : null;
      if (primaryAfter !== primaryBefore) problems.push(`expected no failover, but the primary changed from ${primaryBefore} to ${primaryAfter}`);
    }
    await ctx.clearCuts();
    dep.releaseAll();
    log('stopping the workload; reading every list back');
    dep.signal('worker workload', 'SIGTERM');
    await waitUntil('the workload to finish its final read', () => dep.ref('worker workload') === null, 150_000);
    endedAt = Date.now();
    for (const m of MEMBERS) dep.signal(`worker prober ${m}`, 'SIGTERM');
    dep.signal('worker observer', 'SIGTERM');
    await sleep(500);
    check = checkHistory(readHistory(dir, MEMBERS, faults, startedAt, endedAt));
    // Bring the archive up to now (best effort: the check only requires what archive_timeout bounds).
    const p = dep.backup.members.find((m) => m.name === ctx.primary());
    if (p) await switchWal(p).then(() => sleep(3000)).catch((e: unknown) => log(`could not switch WAL on ${p.name}: ${errorMessage(e)}`));
  } catch (e) {
    problems.push(`run aborted: ${errorMessage(e)}`);
    log(`run aborted: ${errorMessage(e)}`);
  } finally {
    try {
      await ctx.clearCuts().catch(() => undefined);
      const failed = await dep.stopAll();
      teardown = await teardownRecord(record, log);
      teardown.failed.unshift(...failed);
    } catch (e) {
      problems.push(`teardown: ${errorMessage(e)}`);
    }
  }
  if (teardown && teardown.failed.length > 0) problems.push(`teardown left: ${teardown.failed.join('; ')}`);
  if (backupsReady && check !== null) {
    // After teardown (the restore reads only the repository): nothing else competes for the CPU.
    log('restoring the end of the archive into a scratch instance to look for every acknowledged write');
    backupCheck = await checkArchive(dep.backup, readHistory(dir, MEMBERS, faults, startedAt, endedAt).acks, endedAt, log);
    if (backupCheck.error) problems.push(`the archive could not be restored: ${backupCheck.error}`);
    else if (!backupCheck.ok) problems.push(`${backupCheck.missing.length} acknowledged write(s) older than archive_timeout missing from the archive (ids ${backupCheck.missing.slice(0, 10).join(', ')})`);
    else log(`archive check: all ${backupCheck.required} acknowledged writes older than archive_timeout are in the archive (plus ${backupCheck.youngerPresent} younger ones); restore took ${backupCheck.restoreSeconds.toFixed(1)} s`);
  }
  const files = { json: join(dir, 'report.json'), html: join(dir, 'report.html') };
  const report: ChaosReport = {
    ok: problems.length === 0 && check !== null && check.ok,
    runId, dir, scenario: opts.scenario.name, seed: opts.seed, startedAt, endedAt, faults, check, backupCheck, problems, teardown,
    unexpectedExits: dep.unexpectedExits, files,
  };
  writeReport(report, log);
  return report;
}

function writeReport(report: ChaosReport, log: (l: string) => void): void {
  writeFileSync(report.files.json, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o644 });
  try {
    const history = readHistory(report.dir, MEMBERS, report.faults, report.startedAt, report.endedAt);
    writeFileSync(report.files.html, renderReportHtml(report, history), { mode: 0o644 });
  } catch (e) {
    log(`could not write the HTML report: ${errorMessage(e)}`);
  }
}

/**
 * Check a finished run again from its recorded files (acks, probes, final read-back) and
 * rewrite DIR/report.json and report.html: after a checker change, or when the run itself
 * ended before its check. The run's own problems (an aborted run, a failed teardown) stay in
 * the report and still fail it.
 */
export function recheckRun(dir: string, log: (l: string) => void): ChaosReport {
  const path = join(dir, 'report.json');
  if (!existsSync(path)) throw new InvalidInputError(`${dir} holds no chaos report (report.json); nothing to check`);
  const old = JSON.parse(readFileSync(path, 'utf8')) as ChaosReport;
  const check = checkHistory(readHistory(dir, MEMBERS, old.faults, old.startedAt, old.endedAt));
  const report: ChaosReport = { ...old, dir, check, ok: old.problems.length === 0 && check.ok, files: { json: path, html: join(dir, 'report.html') } };
  writeReport(report, log);
  return report;
}

export function scheduleFor(scenario: Scenario | null, random: { count: number; seed: number } | null): Scenario {
  if (scenario) return scenario;
  if (!random) throw new Error('a scenario or a random schedule is needed');
  const steps: FaultStep[] = randomSchedule(createRng(random.seed ^ 0x5eed), random.count);
  return { name: `random-${random.count}-seed-${random.seed}`, description: `${random.count} random faults, seed ${random.seed}`, steps };
}
