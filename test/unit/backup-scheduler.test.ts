// Scheduled backups: the backups spec validator, every scheduler decision as a table, the
// document helpers, the store's CAS on backups/last (MemoryStore), and the scheduler's passes and
// loop against MemoryStore with a fake runner and a fake clock (including a coordinator failover
// during a backup: the new leader must not start a second one).
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_BACKUP_SPEC, backupSpecOf, validateBackupSpec } from '../../src/backup/backup-spec.js';
import {
  BackupScheduler,
  DEFAULT_SCHEDULER_TIMING,
  adoptRepoBackups,
  decideBackupPass,
  emptyRuns,
  judgeClaim,
  newestInRepository,
  recordResult,
  retryDelayMs,
  type BackupRunner,
  type RepoNewest,
  type SchedulerTiming,
} from '../../src/backup/scheduler.js';
import { applyScheduleChange, parseScheduleFlags, scheduleReport } from '../../src/cli/backup-schedule-command.js';
import { InvalidInputError } from '../../src/domain/errors.js';
import { defaultSpec, type BackupRunResult, type BackupRuns, type BackupType } from '../../src/domain/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';

const ms = (iso: string): number => Date.parse(iso);
const MIN = 60_000;
const HOUR = 60 * MIN;
const SUN_0100 = ms('2026-12-06T01:00:00Z'); // a Sunday: the default full schedule fires
const T: SchedulerTiming = { ...DEFAULT_SCHEDULER_TIMING };

function result(type: BackupType, startedAt: number, over: Partial<BackupRunResult> = {}): BackupRunResult {
  return { type, startedAt, finishedAt: startedAt + 10 * MIN, by: 'c1', id: `${type}-${startedAt}`, error: null, failures: 0, ...over };
}
function runs(over: Partial<BackupRuns> = {}): BackupRuns {
  return { ...emptyRuns(SUN_0100 - 7 * 24 * HOUR), ...over };
}

describe('validateBackupSpec', () => {
  it('accepts the defaults and normalises cron text', () => {
    assert.deepEqual(validateBackupSpec(DEFAULT_BACKUP_SPEC), DEFAULT_BACKUP_SPEC);
    const v = validateBackupSpec({ schedule: { full: ' @weekly ', diff: '0 2 * * 1-6', incr: '*/15 * * * *' }, retention: { full: 4, days: 30 } });
    assert.equal(v.schedule.full, '@weekly');
    assert.deepEqual(v.retention, { full: 4, days: 30 });
  });
  const bad: Array<[string, unknown, RegExp]> = [
    ['not an object', 'weekly', /^backups must be an object with schedule, retention/],
    ['unknown top key', { ...DEFAULT_BACKUP_SPEC, keep: 3 }, /^backups: unknown key keep/],
    ['missing schedule', { retention: DEFAULT_BACKUP_SPEC.retention }, /^backups\.schedule must be an object/],
    ['bad diff hour', { ...DEFAULT_BACKUP_SPEC, schedule: { ...DEFAULT_BACKUP_SPEC.schedule, diff: '0 25 * * *' } }, /^backups\.schedule\.diff: '0 25 \* \* \*': hour 25 is out of range 0-23/],
    ['incr with 4 fields', { ...DEFAULT_BACKUP_SPEC, schedule: { ...DEFAULT_BACKUP_SPEC.schedule, incr: '0 * * *' } }, /^backups\.schedule\.incr: .*has 4 fields/],
    ['full not a string', { ...DEFAULT_BACKUP_SPEC, schedule: { ...DEFAULT_BACKUP_SPEC.schedule, full: 7 } }, /^backups\.schedule\.full must be a cron expression/],
    ['unknown schedule key', { ...DEFAULT_BACKUP_SPEC, schedule: { ...DEFAULT_BACKUP_SPEC.schedule, hourly: '@hourly' } }, /^backups\.schedule: unknown key hourly/],
    ['retention full 0', { ...DEFAULT_BACKUP_SPEC, retention: { full: 0, days: null } }, /^backups\.retention\.full must be a whole number from 1 to 100 \(got 0\)/],
    ['retention full 2.5', { ...DEFAULT_BACKUP_SPEC, retention: { full: 2.5, days: null } }, /^backups\.retention\.full must be a whole number/],
    ['retention days missing', { ...DEFAULT_BACKUP_SPEC, retention: { full: 2 } }, /^backups\.retention\.days must be a whole number .*got nothing/],
    ['retention days "7"', { ...DEFAULT_BACKUP_SPEC, retention: { full: 2, days: '7' } }, /^backups\.retention\.days must be a whole number from 1 to 9999 \(got "7"\)/],
  ];
  for (const [name, input, want] of bad) {
    it(`rejects ${name}, naming the field`, () => {
      assert.throws(() => validateBackupSpec(input), (e: unknown) => e instanceof InvalidInputError && want.test(e.message));
    });
  }
  it('a spec without a backups section gets the defaults', () => {
    assert.deepEqual(backupSpecOf(defaultSpec('main')), DEFAULT_BACKUP_SPEC);
    assert.deepEqual(backupSpecOf(null), DEFAULT_BACKUP_SPEC);
  });
});

test('judgeClaim: none, own (left by a previous process), stale, blocking', () => {
  const c = { type: 'full' as const, by: 'c2', since: SUN_0100 };
  const table: Array<[Parameters<typeof judgeClaim>[0], string, number, ReturnType<typeof judgeClaim>]> = [
    [null, 'c1', SUN_0100, 'none'],
    [c, 'c2', SUN_0100 + 10 * HOUR, 'own'],
    [c, 'c1', SUN_0100 + 5 * HOUR, 'blocking'],
    [c, 'c1', SUN_0100 + 6 * HOUR, 'stale'],
  ];
  for (const [claim, self, now, want] of table) assert.equal(judgeClaim(claim, self, now, T.claimTimeoutMs), want, `${self} at +${(now - SUN_0100) / HOUR} h`);
});

test('retryDelayMs doubles from 5 min up to 4 h', () => {
  assert.deepEqual([1, 2, 3, 6, 7, 50].map((n) => retryDelayMs(n, T) / MIN), [5, 10, 20, 160, 240, 240]);
});

describe('decideBackupPass', () => {
  const foreign = { type: 'full' as const, by: 'c2', since: SUN_0100 + 5 * MIN };
  const failedIncr = result('incr', SUN_0100 + 90 * MIN, { id: null, error: 'no healthy primary', failures: 2, finishedAt: SUN_0100 + 91 * MIN });
  const table: Array<{ name: string; runs: BackupRuns; now: number; self?: string; kind: string; type?: BackupType; reason: RegExp }> = [
    { name: 'fresh document: waits for the full backup up takes', runs: emptyRuns(SUN_0100), now: SUN_0100 + 5 * MIN, kind: 'idle', reason: /no full backup known yet: waiting until 2026-12-06T01:10:00.000Z/ },
    { name: 'grace over, still no full: full', runs: emptyRuns(SUN_0100), now: SUN_0100 + 10 * MIN, kind: 'run', type: 'full', reason: /taking a full backup: no full backup yet/ },
    { name: 'full schedule fired since the last full', runs: runs({ ok: { full: result('full', SUN_0100 - 7 * 24 * HOUR) } }), now: SUN_0100 + MIN, kind: 'run', type: 'full', reason: /the full schedule '0 1 \* \* 0' fired since the last one at 2026-11-29T01:00/ },
    { name: 'full just taken: nothing due, next incr at :30', runs: runs({ ok: { full: result('full', SUN_0100) } }), now: SUN_0100 + 20 * MIN, kind: 'idle', reason: /^no backup due; next: incr at 2026-12-06T01:30:00.000Z$/ },
    { name: 'incr fired: incr', runs: runs({ ok: { full: result('full', SUN_0100) } }), now: SUN_0100 + 31 * MIN, kind: 'run', type: 'incr', reason: /no incr backup yet/ },
    { name: 'Monday 01:00: diff wins over incr', runs: runs({ ok: { full: result('full', SUN_0100), incr: result('incr', SUN_0100 + 23.5 * HOUR) } }), now: SUN_0100 + 24 * HOUR, kind: 'run', type: 'diff', reason: /taking a diff backup/ },
    { name: 'due, another coordinator holds a young claim: blocked', runs: runs({ ok: { full: result('full', SUN_0100 - 7 * 24 * HOUR) }, running: foreign }), now: SUN_0100 + 2 * HOUR, kind: 'blocked', type: 'full', reason: /c2 has claimed a full backup since 2026-12-06T01:05:00.000Z .*not starting a second one/ },
    { name: 'due, the other claim is 6 h old: take it over', runs: runs({ ok: { full: result('full', SUN_0100 - 7 * 24 * HOUR) }, running: foreign }), now: SUN_0100 + 6 * HOUR + 5 * MIN, kind: 'run', type: 'full', reason: /taking over the stale claim of c2/ },
    { name: 'due, our own claim from a previous process: take it over', runs: runs({ ok: { full: result('full', SUN_0100 - 7 * 24 * HOUR) }, running: foreign }), now: SUN_0100 + 10 * MIN, self: 'c2', kind: 'run', type: 'full', reason: /claim our previous process left/ },
    { name: 'not due, a claim is mentioned', runs: runs({ ok: { full: result('full', SUN_0100) }, running: { ...foreign, type: 'incr' } }), now: SUN_0100 + 10 * MIN, kind: 'idle', reason: /no backup due; next: incr .*; c2 runs an incr backup since/ },
    { name: 'incr failed twice 9 min ago: wait for the 10 min back-off', runs: runs({ ok: { full: result('full', SUN_0100) }, last: { incr: failedIncr } }), now: SUN_0100 + 100 * MIN, kind: 'retry-wait', type: 'incr', reason: /failed 2 times in a row \(last: no healthy primary\); retrying at 2026-12-06T02:41:00.000Z/ },
    { name: 'back-off over: retry', runs: runs({ ok: { full: result('full', SUN_0100) }, last: { incr: failedIncr } }), now: SUN_0100 + 101 * MIN, kind: 'run', type: 'incr', reason: /taking an incr backup/ },
    { name: 'a success after the failure: no back-off', runs: runs({ ok: { full: result('full', SUN_0100), incr: result('incr', SUN_0100 + 95 * MIN) }, last: { incr: failedIncr } }), now: SUN_0100 + 2.5 * HOUR, kind: 'run', type: 'incr', reason: /fired since the last one at 2026-12-06T02:35/ },
  ];
  for (const c of table) {
    it(c.name, () => {
      const d = decideBackupPass({ spec: DEFAULT_BACKUP_SPEC, runs: c.runs, now: c.now, self: c.self ?? 'c1', timing: T });
      assert.equal(d.kind, c.kind, d.reason);
      if (c.type) assert.equal((d as { type?: BackupType }).type, c.type);
      assert.match(d.reason, c.reason);
    });
  }
});

describe('backups/last document helpers', () => {
  it('recordResult: success clears our claim; failures count up; another claim stays', () => {
    const claimed: BackupRuns = { ...runs(), running: { type: 'full', by: 'c1', since: SUN_0100 } };
    const failed = recordResult(claimed, { type: 'full', startedAt: SUN_0100, finishedAt: SUN_0100 + MIN, by: 'c1', id: null, error: 'boom' });
    assert.equal(failed.running, null);
    assert.equal(failed.last.full?.failures, 1);
    assert.equal(failed.ok.full, undefined);
    const again = recordResult(failed, { type: 'full', startedAt: SUN_0100 + HOUR, finishedAt: SUN_0100 + HOUR, by: 'c1', id: null, error: 'boom' });
    assert.equal(again.last.full?.failures, 2);
    const ok = recordResult({ ...again, running: { type: 'full', by: 'c2', since: SUN_0100 + 2 * HOUR } }, { type: 'full', startedAt: SUN_0100 + HOUR, finishedAt: SUN_0100 + 2 * HOUR, by: 'c1', id: 'F1', error: null });
    assert.deepEqual(ok.running, { type: 'full', by: 'c2', since: SUN_0100 + 2 * HOUR });
    assert.equal(ok.ok.full?.id, 'F1');
    assert.equal(ok.last.full?.failures, 0);
  });
  it('newestInRepository picks the newest good backup of each type', () => {
    const b = (id: string, type: BackupType, start: string, error = false) => ({ id, type, startedAt: start, stoppedAt: start, error });
    const n = newestInRepository([b('F1', 'full', '2026-12-01T00:00:00Z'), b('F2', 'full', '2026-12-06T00:00:00Z'), b('I1', 'incr', '2026-12-06T03:00:00Z', true), b('I0', 'incr', '2026-12-06T02:00:00Z')]);
    assert.deepEqual(Object.fromEntries(Object.entries(n).map(([k, v]) => [k, v.id])), { full: 'F2', incr: 'I0' });
  });
  it('adoptRepoBackups takes newer backups, never older ones or the same id', () => {
    const doc = runs({ ok: { full: result('full', SUN_0100, { id: 'F1' }) } });
    assert.equal(adoptRepoBackups(doc, { full: { id: 'F1', startedAt: SUN_0100 + 5000, finishedAt: SUN_0100 + 9000 } }).runs, doc);
    assert.equal(adoptRepoBackups(doc, { full: { id: 'F0', startedAt: SUN_0100 - HOUR, finishedAt: SUN_0100 } }).runs, doc);
    const a = adoptRepoBackups(doc, { full: { id: 'F2', startedAt: SUN_0100 + HOUR, finishedAt: SUN_0100 + 2 * HOUR }, diff: { id: 'D1', startedAt: SUN_0100 + 3 * HOUR, finishedAt: SUN_0100 + 4 * HOUR } });
    assert.deepEqual(a.adopted, ['full F2', 'diff D1']);
    assert.equal(a.runs.ok.full?.by, 'repository');
  });
});

describe('backup schedule flags (pure)', () => {
  it('validates flags and names them', () => {
    assert.equal(parseScheduleFlags({}), null);
    assert.throws(() => parseScheduleFlags({ diff: '61 * * * *' }), /^InvalidInputError: --diff: '61 \* \* \* \*': minute 61 is out of range/);
    assert.throws(() => parseScheduleFlags({ retentionDays: 'never' }), /--retention-days \(a number or none\) must be a whole number/);
    assert.throws(() => parseScheduleFlags({ retentionFull: '0' }), /--retention-full must be from 1 to 100/);
    const c = parseScheduleFlags({ incr: '@hourly', retentionDays: 'none', retentionFull: '5' });
    assert.deepEqual(c, { schedule: { incr: '@hourly' }, retention: { days: null, full: 5 } });
    const spec = applyScheduleChange({ ...DEFAULT_BACKUP_SPEC, retention: { full: 2, days: 14 } }, c!);
    assert.deepEqual(spec, { schedule: { ...DEFAULT_BACKUP_SPEC.schedule, incr: '@hourly' }, retention: { full: 5, days: null } });
  });
  it('the report gives the next run of each type', () => {
    const r = scheduleReport('main', DEFAULT_BACKUP_SPEC, runs({ ok: { full: result('full', SUN_0100) } }), SUN_0100 + 20 * MIN, false);
    assert.deepEqual(r.next, { full: '2026-12-13T01:00:00.000Z', diff: '2026-12-07T01:00:00.000Z', incr: '2026-12-06T01:30:00.000Z' });
    assert.match(String(r.coordinatorView), /^no backup due/);
  });
});

test('MemoryStore: backups/last is compare-and-swapped on its revision', async () => {
  const store = new MemoryStore();
  assert.deepEqual(await store.readBackupRuns('c'), { runs: null, revision: '0' });
  const r1 = await store.writeBackupRun('c', emptyRuns(1), '0');
  assert.ok(r1 !== null);
  assert.equal(await store.writeBackupRun('c', emptyRuns(2), '0'), null, 'must not exist');
  const read = await store.readBackupRuns('c');
  assert.deepEqual(read, { runs: emptyRuns(1), revision: r1 });
  await store.putSpec('c', defaultSpec('c')); // another key bumps the global revision, not this key's
  const r2 = await store.writeBackupRun('c', emptyRuns(3), r1);
  assert.ok(r2 !== null && r2 !== r1);
  assert.equal(await store.writeBackupRun('c', emptyRuns(4), r1), null, 'stale revision');
  assert.equal((await store.readBackupRuns('c')).runs?.createdAt, 3);
});

interface Deferred<T> { promise: Promise<T>; resolve(v: T): void; reject(e: Error): void }
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** A runner whose every call waits for the test to finish it. */
function heldRunner(): BackupRunner & { calls: BackupType[]; pending: Array<Deferred<{ id: string }>> } {
  const calls: BackupType[] = [];
  const pending: Array<Deferred<{ id: string }>> = [];
  return {
    calls,
    pending,
    run(type) {
      calls.push(type);
      const d = deferred<{ id: string }>();
      pending.push(d);
      return d.promise;
    },
  };
}

const until = async (what: string, cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(cond(), `timed out waiting for ${what}`);
};

describe('BackupScheduler against MemoryStore', () => {
  it('waits out the grace period, takes the first full backup, records it', async () => {
    let clock = SUN_0100;
    const store = new MemoryStore();
    await store.putSpec('main', defaultSpec('main'));
    const runner: BackupRunner = { run: async (type) => ({ id: `${type}-1` }) };
    const s = new BackupScheduler({ store, cluster: 'main', id: 'c1', runner, now: () => clock });
    assert.equal((await s.pass()).kind, 'idle');
    clock += 11 * MIN;
    const o = await s.pass();
    assert.deepEqual([o.kind, o.reason], ['ran', 'full backup full-1 done']);
    const { runs } = await store.readBackupRuns('main');
    assert.equal(runs?.ok.full?.id, 'full-1');
    assert.equal(runs?.running, null);
    assert.equal((await s.pass()).kind, 'idle');
  });

  it('during the grace period, adopts the full backup up took as soon as the repository shows it', async () => {
    let clock = SUN_0100;
    const store = new MemoryStore();
    let repo: RepoNewest = {};
    const calls: BackupType[] = [];
    const s = new BackupScheduler({ store, cluster: 'main', id: 'c1', runner: { run: async (t) => (calls.push(t), { id: 'x' }), newest: async () => repo }, now: () => clock });
    assert.match((await s.pass()).reason, /^no full backup known yet: waiting until 2026-12-06T01:10/);
    repo = { full: { id: 'UP', startedAt: SUN_0100 + MIN, finishedAt: SUN_0100 + 2 * MIN } };
    clock += 3 * MIN;
    const o = await s.pass();
    assert.match(o.reason, /^found newer backups in the repository \(full UP\); no backup due; next: incr at 2026-12-06T01:30/);
    assert.deepEqual(calls, []);
  });

  it('adopts the full backup up took from the repository instead of taking another', async () => {
    const store = new MemoryStore();
    await store.writeBackupRun('main', emptyRuns(SUN_0100 - HOUR), '0');
    const calls: BackupType[] = [];
    const runner: BackupRunner = {
      run: async (type) => (calls.push(type), { id: 'x' }),
      newest: async () => ({ full: { id: 'UP-FULL', startedAt: SUN_0100 - 50 * MIN, finishedAt: SUN_0100 - 49 * MIN } }),
    };
    let repoChecks = 0;
    const s = new BackupScheduler({ store, cluster: 'main', id: 'c1', runner: { ...runner, newest: () => (repoChecks++, runner.newest!()) }, now: () => SUN_0100 - 40 * MIN });
    const o = await s.pass();
    assert.equal(o.kind, 'idle', o.reason);
    assert.match(o.reason, /found newer backups in the repository \(full UP-FULL\); no backup due/);
    assert.deepEqual(calls, []);
    assert.equal((await store.readBackupRuns('main')).runs?.ok.full?.by, 'repository');
    assert.equal((await s.pass()).kind, 'idle');
    assert.equal(repoChecks, 1, 'the repository is read only while no full backup is known or one is due');
  });

  it('a failover during a backup does not start a second one; the old leader still records it', async () => {
    let clock = SUN_0100 + 11 * MIN;
    const store = new MemoryStore();
    await store.writeBackupRun('main', emptyRuns(SUN_0100), '0');
    const storeB = store.connect();
    const la = store.campaign('main', 'c1', 2);
    const lb = storeB.campaign('main', 'c2', 2);
    assert.equal(la.isLeader(), true);
    const ra = heldRunner();
    const rb = heldRunner();
    const a = new BackupScheduler({ store, cluster: 'main', id: 'c1', runner: ra, now: () => clock });
    const b = new BackupScheduler({ store: storeB, cluster: 'main', id: 'c2', runner: rb, now: () => clock });
    const aPass = a.pass(() => la.isLeader());
    await until('c1 to start the full backup', () => ra.calls.length === 1);
    assert.deepEqual((await store.readBackupRuns('main')).runs?.running, { type: 'full', by: 'c1', since: clock });

    store.expireLeadership('main');
    assert.equal(lb.isLeader(), true);
    clock += 5 * MIN; // 01:16: before the incr schedule fires at 01:30
    const b1 = await b.pass(() => lb.isLeader());
    assert.equal(b1.kind, 'blocked', b1.reason);
    assert.equal((await b.pass(() => lb.isLeader())).kind, 'blocked');
    const skipped = (await store.listEvents('main', 10)).filter((e) => e.message.includes('(code backup-skipped-claim)'));
    assert.equal(skipped.length, 1, 'one event per claim');
    assert.equal(skipped[0]?.source, 'coordinator:c2');
    assert.deepEqual(rb.calls, []);

    ra.pending[0]?.resolve({ id: 'F1' });
    assert.equal((await aPass).kind, 'ran');
    const { runs } = await store.readBackupRuns('main');
    assert.equal(runs?.running, null);
    assert.equal(runs?.ok.full?.by, 'c1');
    const b2 = await b.pass(() => lb.isLeader());
    assert.equal(b2.kind, 'idle', b2.reason);
    assert.deepEqual(rb.calls, []);
  });

  it('stops scheduling on an invalid stored spec, with one event', async () => {
    const store = new MemoryStore();
    await store.putSpec('main', { ...defaultSpec('main'), backups: { ...DEFAULT_BACKUP_SPEC, schedule: { ...DEFAULT_BACKUP_SPEC.schedule, full: 'weekly' } } });
    const s = new BackupScheduler({ store, cluster: 'main', id: 'c1', runner: heldRunner(), now: () => SUN_0100 });
    const o = await s.pass();
    assert.equal(o.kind, 'invalid-spec');
    assert.match(o.reason, /backups\.schedule\.full: 'weekly'/);
    await s.pass();
    assert.equal((await store.listEvents('main', 10)).filter((e) => e.message.includes('backup-schedule-invalid')).length, 1);
  });

  it('the loop runs passes only while leading, with a fake clock; stop() interrupts a backup in flight', async () => {
    let clock = SUN_0100 - MIN;
    const store = new MemoryStore();
    await store.writeBackupRun('main', emptyRuns(SUN_0100 - HOUR), '0');
    let leading = false;
    // The fake clock moves one minute per leader check (each loop turn, and once before a claim).
    const shouldRun = (): boolean => {
      if (leading) clock += MIN;
      return leading;
    };
    const calls: BackupType[] = [];
    const hang = deferred<{ id: string }>();
    const runner: BackupRunner = {
      run: async (type) => {
        calls.push(type);
        if (calls.length === 4) return hang.promise; // the fourth backup is still running when we stop
        clock += 45 * MIN; // a backup takes 45 min
        return { id: `${type}-${calls.length}` };
      },
    };
    const log: string[] = [];
    const s = new BackupScheduler({ store, cluster: 'main', id: 'c1', runner, now: () => clock, timing: { intervalMs: 1 }, log: (_l, m) => log.push(m) });
    s.start(shouldRun);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(calls, [], 'nothing while not leading');
    leading = true;
    await until('four backups', () => calls.length === 4);
    // full at 01:00 (done 01:46); incr (due 01:30) at 01:47, done 02:33; incr (due 02:30) at 02:34,
    // done 03:20; idle until the incr due at 03:30; that one hangs.
    assert.deepEqual(calls, ['full', 'incr', 'incr', 'incr']);
    await s.stop();
    const { runs } = await store.readBackupRuns('main');
    assert.equal(runs?.running, null, 'the claim is released');
    assert.match(runs?.last.incr?.error ?? '', /coordinator stopped during the backup/);
    assert.equal(runs?.ok.incr?.id, 'incr-3');
    assert.ok(log.some((m) => m === 'full backup full-1 done'), log.join('\n'));
    assert.equal((await store.listEvents('main', 10)).filter((e) => e.message.includes('(code backup-interrupted)')).length, 1);
    hang.resolve({ id: 'late' });
  });
});
