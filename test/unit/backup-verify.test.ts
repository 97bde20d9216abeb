// `backup verify`: parsing pgbackrest verify's report (captured from pgBackRest 2.45, also on a
// damaged copy of a repository), judging pg_amcheck's exit and output, the recovery-reached-the-
// end check, the result record, its event and listing, and the operation's steps with fakes
// (the scratch instance is removed on every path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PostgresControl } from '../../src/agent/postgres-control.js';
import { parseStanzaInfo } from '../../src/backup/backup-info.js';
import { listingOf, type BackupSite } from '../../src/backup/operations.js';
import type { PgBackRest } from '../../src/backup/pgbackrest.js';
import {
  buildVerifyRecord, exitStatusOf, failureOf, gist, judgeAmcheck, judgeVerify, lastVerifyOf, parseVerifyOutput, parseVerifyRecord,
  recoveryShortfall, verifyBackups, verifyEventOf, walGaps, type ScratchInstance, type ToolRun, type VerifyRecord, type WalRange,
} from '../../src/backup/verify.js';
import { renderVerify } from '../../src/cli/backup-verify-command.js';
import { CommandFailedError, InvalidInputError } from '../../src/domain/errors.js';

const P = '                                    '; // pgBackRest's continuation indent of a log message

/** `pgbackrest verify --output=text --verbose --log-level-console=detail` on a fresh cluster. */
const OK_OUTPUT = `2026-12-07 21:05:10.133 P00   INFO: verify command begin 2.45: --config=/tmp/vh1/backup/pgbackrest.conf --exec-id=15895-4b829c0a --log-level-console=detail --output=text --repo1-cipher-pass=<redacted> --stanza=main --verbose
2026-12-07 21:05:10.379 P00 DETAIL: archiveId: 15-1, wal start: 000000010000000000000001, wal stop: 000000010000000000000007
2026-12-07 21:05:10.379 P00   INFO: stanza: main
${P}status: ok
${P}  archiveId: 15-1, total WAL checked: 7, total valid WAL: 7
${P}    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
${P}  backup: 20261207-205426F, status: valid, total files checked: 1263, total valid files: 1263
${P}    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
stanza: main
status: ok
  archiveId: 15-1, total WAL checked: 7, total valid WAL: 7
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: 20261207-205426F, status: valid, total files checked: 1263, total valid files: 1263
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
2026-12-07 21:05:10.380 P00   INFO: verify command end: completed successfully (249ms)
`;

/** The same on a copy with one WAL segment and one backup file garbled and one file deleted (exit 0!). */
const DAMAGED_OUTPUT = `2026-12-07 20:54:43.621 P00   INFO: verify command begin 2.45: --config=/tmp/vhx/p.conf --stanza=main --verbose
2026-12-07 20:54:43.802 P02   INFO: invalid checksum '15-1/0000000100000000/000000010000000000000003-b68ef08effb5eda536eba02993d37b24d98a246b.zst'
2026-12-07 20:54:43.902 P02   INFO: invalid checksum '20261207-205426F/pg_data/base/5/2654.zst'
2026-12-07 20:54:43.908 P02   INFO: file missing '20261207-205426F/pg_data/global/1260_fsm.zst'
2026-12-07 20:54:44.014 P00 DETAIL: archiveId: 15-1, wal start: 000000010000000000000001, wal stop: 000000010000000000000004
2026-12-07 20:54:44.014 P00   INFO: stanza: main
${P}status: error
${P}  archiveId: 15-1, total WAL checked: 4, total valid WAL: 3
${P}    missing: 0, checksum invalid: 1, size invalid: 0, other: 0
${P}  backup: 20261207-205426F, status: invalid, total files checked: 1263, total valid files: 1261
${P}    missing: 1, checksum invalid: 1, size invalid: 0, other: 0
stanza: main
status: error
  archiveId: 15-1, total WAL checked: 4, total valid WAL: 3
    missing: 0, checksum invalid: 1, size invalid: 0, other: 0
  backup: 20261207-205426F, status: invalid, total files checked: 1263, total valid files: 1261
    missing: 1, checksum invalid: 1, size invalid: 0, other: 0
2026-12-07 20:54:44.014 P00   INFO: verify command end: completed successfully (400ms)
`;

/** A repository whose archive.info files are gone. */
const NO_ARCHIVE_INFO = `2026-12-07 20:54:55.347 P00   INFO: stanza: main
${P}status: error
${P}  No usable archive.info file
stanza: main
status: error
  No usable archive.info file
`;

/** A segment deleted in the middle: two ranges, and pgBackRest still says ok. */
const GAP_OUTPUT = `2026-12-07 20:55:04.758 P00 DETAIL: archiveId: 15-1, wal start: 000000010000000000000001, wal stop: 000000010000000000000002
2026-12-07 20:55:04.758 P00 DETAIL: archiveId: 15-1, wal start: 000000010000000000000004, wal stop: 000000010000000000000004
stanza: main
status: ok
  archiveId: 15-1, total WAL checked: 3, total valid WAL: 3
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: 20261207-205426F, status: valid, total files checked: 1263, total valid files: 1263
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
`;

/** Without --verbose pgBackRest prints only non-zero counts. */
const TERSE_DAMAGED = `stanza: main
status: error
  archiveId: 15-1, total WAL checked: 4, total valid WAL: 3
    checksum invalid: 1
  backup: 20261207-205426F, status: invalid, total files checked: 1263, total valid files: 1261
    missing: 1, checksum invalid: 1
`;

const verifyCases: [string, string, boolean, RegExp[]][] = [
  ['a healthy repository', OK_OUTPUT, true, [/^7 WAL segments and 1 backup \(1263 files\) checked: all valid$/]],
  ['garbled and missing files (pgBackRest exits 0)', DAMAGED_OUTPUT, false, [
    /^status error: /,
    /WAL 15-1: 1 of 4 segments bad \(checksum invalid: 1\)/,
    /backup 20261207-205426F: invalid, 2 of 1263 files bad \(missing: 1, checksum invalid: 1\)/,
    /invalid checksum '15-1\/0000000100000000\/000000010000000000000003-/,
    /file missing '20261207-205426F\/pg_data\/global\/1260_fsm.zst'/,
  ]],
  ['the same, terse report', TERSE_DAMAGED, false, [/WAL 15-1: 1 of 4 segments bad \(checksum invalid: 1\)/, /files bad \(missing: 1, checksum invalid: 1\)/]],
  ['no archive.info', NO_ARCHIVE_INFO, false, [/^status error: No usable archive.info file$/]],
  ['a WAL gap pgBackRest calls ok', GAP_OUTPUT, false, [
    /^pgBackRest's report is ok, but WAL 15-1: the segments between 000000010000000000000002 and 000000010000000000000004 are missing/,
  ]],
  ['a warning', `2026-12-07 20:54:55.347 P00   WARN: archiveIds '15-2' are not in the archive.info history list\n${GAP_OUTPUT.split('\n').slice(2).join('\n')}`, false,
    [/WARN: archiveIds '15-2' are not in the archive.info history list/]],
  ['no report at all', '', false, [/^pgbackrest verify printed no report$/]],
];

for (const [name, text, ok, details] of verifyCases) {
  test(`verify report: ${name}`, () => {
    const v = judgeVerify(parseVerifyOutput(text));
    assert.equal(v.ok, ok, v.detail);
    for (const re of details) assert.match(v.detail, re);
  });
}

test('verify report: the logged copy of the report is not counted twice', () => {
  const r = parseVerifyOutput(DAMAGED_OUTPUT);
  assert.equal(r.status, 'error');
  assert.equal(r.walChecked, 4);
  assert.equal(r.backupsChecked, 1);
  assert.equal(r.filesChecked, 1263);
  assert.equal(r.problems.length, 5);
  assert.deepEqual(r.walRanges, [{ archiveId: '15-1', start: '000000010000000000000001', stop: '000000010000000000000004' }]);
});

const range = (archiveId: string, start: string, stop: string): WalRange => ({ archiveId, start, stop });
const gapCases: [string, WalRange[], number][] = [
  ['one range', [range('15-1', '000000010000000000000001', '000000010000000000000009')], 0],
  ['a gap in one timeline', [range('15-1', '000000010000000000000001', '000000010000000000000002'), range('15-1', '000000010000000000000005', '000000010000000000000009')], 1],
  ['unsorted input', [range('15-1', '000000010000000000000005', '000000010000000000000009'), range('15-1', '000000010000000000000001', '000000010000000000000002')], 1],
  ['a new timeline after a failover is no gap', [range('15-1', '000000010000000000000001', '000000010000000000000006'), range('15-1', '000000020000000000000006', '000000020000000000000009')], 0],
  ['another archive id (major upgrade) is no gap', [range('14-1', '000000010000000000000001', '000000010000000000000003'), range('15-2', '000000010000000000000007', '000000010000000000000009')], 0],
  ['two gaps', [range('15-1', '000000010000000000000001', '000000010000000000000001'), range('15-1', '000000010000000000000003', '000000010000000000000003'), range('15-1', '000000010000000000000005', '000000010000000000000005')], 2],
];

for (const [name, ranges, n] of gapCases) {
  test(`wal gaps: ${name}`, () => assert.equal(walGaps(ranges).length, n));
}

test('wal gaps before the oldest backup (left by expire) do not count; after it they do', () => {
  const expired = [range('15-1', '000000010000000000000001', '000000010000000000000003'), range('15-1', '000000010000000000000008', '00000001000000000000000C')];
  assert.equal(walGaps(expired, '000000010000000000000008').length, 0, 'the oldest backup starts where the archive resumes');
  assert.equal(walGaps(expired, '00000001000000000000000A').length, 0, 'and after it');
  assert.equal(walGaps(expired, '000000010000000000000002').length, 1, 'a gap after the oldest backup start is real');
});

const amcheckCases: [string, ToolRun, 'ok' | 'corrupt' | 'unavailable', RegExp][] = [
  ['clean', { exit: 0, lines: [] }, 'ok', /^no corruption/],
  ['heap corruption (exit 2)', { exit: 2, lines: [
    'heap table "app.public.orders", block 0, offset 3:',
    '    xmin 4294967295 equals or exceeds next valid transaction ID 0:758',
    'heap table "app.public.orders", block 1, offset 1:',
    '    line pointer redirection to item at offset 21840 exceeds maximum offset 38',
  ] }, 'corrupt', /^corruption in 1 relation: heap table app\.public\.orders; output: heap table/],
  ['index corruption', { exit: 2, lines: ['btree index "app.public.orders_pkey":', '    ERROR:  index "orders_pkey" lacks a main relation fork'] },
    'corrupt', /^corruption in 1 relation: btree index app\.public\.orders_pkey/],
  ['corruption reported, then a FATAL ends the run (exit 1)', { exit: 1, lines: [
    'heap table "app.public.t", block 7:', '    could not read block 7', 'pg_amcheck: error: connection to server was lost',
  ] }, 'corrupt', /corruption in 1 relation: heap table app\.public\.t/],
  ['exit 2 without a header', { exit: 2, lines: ['something odd'] }, 'corrupt', /^pg_amcheck reported corruption \(exit 2\)/],
  ['cannot connect', { exit: 1, lines: ['pg_amcheck: error: connection to server on socket "/x/.s.PGSQL.5432" failed: No such file or directory'] },
    'unavailable', /^pg_amcheck could not run \(exit 1\): pg_amcheck: error: connection to server/],
  ['no amcheck extension', { exit: 1, lines: ['pg_amcheck: error: could not open extension control file "/usr/share/postgresql/15/extension/amcheck.control"'] },
    'unavailable', /could not open extension control file/],
  ['not installed', { exit: null, lines: ['cannot run pg_amcheck: spawn /usr/lib/postgresql/15/bin/pg_amcheck ENOENT'] },
    'unavailable', /^pg_amcheck could not run: cannot run pg_amcheck: spawn/],
];

for (const [name, run, verdict, detail] of amcheckCases) {
  test(`pg_amcheck: ${name}`, () => {
    const v = judgeAmcheck(run);
    assert.equal(v.verdict, verdict);
    assert.match(v.detail, detail);
  });
}

test('pg_amcheck: the exit status is read from the run error', () => {
  assert.equal(exitStatusOf('pg_amcheck failed (exit 2):\nheap table "a.b.c":'), 2);
  assert.equal(exitStatusOf('pg_amcheck failed (signal SIGKILL)'), null);
  assert.equal(exitStatusOf('pg_amcheck did not finish within 5 ms'), null);
});

const shortfallCases: [string, string | null, string | null, boolean][] = [
  ['recovery ended inside the newest segment', '0/70000A0', '000000010000000000000007', false],
  ['recovery ended at the start of the next one (after a switch)', '0/80000A0', '000000010000000000000007', false],
  ['recovery stopped two segments early', '0/50000A0', '000000010000000000000007', true],
  ['a newer timeline: the segment number counts', '0/90000A0', '000000030000000000000009', false],
  ['beyond the first 4 GiB', '1/2000028', '000000010000000100000002', false],
  ['beyond the first 4 GiB, short', '1/1000028', '000000010000000100000002', true],
  ['unknown recovery point', null, '000000010000000000000007', false],
  ['empty archive', '0/50000A0', null, false],
];

for (const [name, lsn, max, short] of shortfallCases) {
  test(`recovery shortfall: ${name}`, () => assert.equal(recoveryShortfall(lsn, max) !== null, short));
}

type RecordParts = Parameters<typeof buildVerifyRecord>[0];

const OK_PARTS: RecordParts = {
  backup: '20261207-205426F',
  pgbackrestVerify: { ok: true, detail: '7 WAL segments and 1 backup (1263 files) checked: all valid' },
  restore: { ok: true, seconds: 5.2, recoveredToLsn: '0/80000A0', timeline: 2, detail: 'restored' },
  amcheck: { ok: true, method: 'pg_amcheck', detail: 'no corruption' },
  seconds: 9.8,
  finishedMs: Date.parse('2026-12-07T21:01:56.884Z'),
};

const recordCases: [string, Partial<RecordParts>, boolean, RegExp][] = [
  ['everything passed', {}, true, /^ok in 9\.8 s: repository checksums valid; backup 20261207-205426F restored and recovered to 0\/80000A0 \(timeline 2\); pg_amcheck found no corruption$/],
  ['pgbackrest verify failed', { pgbackrestVerify: { ok: false, detail: 'status error: No usable archive.info file' } }, false,
    /^FAILED in 9\.8 s: pgbackrest verify: status error: No usable archive.info file$/],
  ['the restore failed, the check did not run', {
    restore: { ok: false, seconds: 6.5, recoveredToLsn: null, timeline: null, detail: 'the restored instance did not start: postgres exited during start (exit 1):\n... FATAL:  WAL ends before end of online backup' },
    amcheck: { ok: false, method: null, detail: 'not run: the restore failed' },
  }, false, /^FAILED in 9\.8 s: restore: the restored instance did not start: postgres exited during start \(exit 1\): FATAL: WAL ends before end of online backup$/],
  ['the row count found an unreadable table', { amcheck: { ok: false, method: 'row-count', detail: '1 of 3 user tables unreadable: app.t: invalid page in block 0' } }, false,
    /^FAILED in 9\.8 s: row-count: 1 of 3 user tables unreadable/],
];

for (const [name, change, ok, summary] of recordCases) {
  test(`verify record: ${name}`, () => {
    const r = buildVerifyRecord({ ...OK_PARTS, ...change });
    assert.equal(r.ok, ok);
    assert.equal(r.verifiedAt, '2026-12-07T21:01:56.884Z');
    assert.equal(failureOf(r) === null, ok);
    const e = verifyEventOf(r);
    assert.equal(e.source, 'backup');
    assert.equal(e.at, OK_PARTS.finishedMs);
    assert.equal(e.level, ok ? 'info' : 'error');
    assert.match(e.message, ok ? /\(code backup-verify-ok\)$/ : /\(code backup-verify-failed\)$/);
    const l = lastVerifyOf(r);
    assert.deepEqual({ ...l, summary: '' }, { verifiedAt: r.verifiedAt, ok, backup: r.backup, seconds: 9.8, summary: '' });
    assert.match(l.summary, summary);
    assert.deepEqual(parseVerifyRecord(JSON.stringify(r)), r);
    assert.match(renderVerify(r, '/d/backup/last-verify.json'), ok ? /backup verify passed in 9\.8 s/ : /backup verify FAILED in 9\.8 s/);
  });
}

test('verify record: a damaged file is refused with a reason', () => {
  assert.throws(() => parseVerifyRecord('{"ok": true'), InvalidInputError);
  assert.throws(() => parseVerifyRecord('{"ok": "yes"}'), (e: unknown) => e instanceof InvalidInputError && /verifiedAt/.test(e.message));
});

test('gist: first line plus the cause from a postgres log tail, not a client being turned away', () => {
  assert.equal(gist('one line'), 'one line');
  assert.equal(gist('did not start (exit 1):\nLOG: x\nFATAL:  real cause\nFATAL:  the database system is not yet accepting connections'), 'did not start (exit 1): FATAL: real cause');
});

// ---- listing ---------------------------------------------------------------------------------

const INFO = parseStanzaInfo(`[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000007","min":"000000010000000000000001"}],"backup":[{"annotation":{"ballast-member":"pg2"},"archive":{"start":"000000010000000000000003","stop":"000000010000000000000004"},"backrest":{"format":5,"version":"2.45"},"database":{"id":1,"repo-key":1},"error":false,"info":{"delta":30454667,"repository":{"delta":3779824,"size":3779824},"size":30454667},"label":"20261207-205426F","lsn":{"start":"0/3000028","stop":"0/4000050"},"prior":null,"reference":null,"timestamp":{"start":1796676866,"stop":1796676869},"type":"full"}],"cipher":"aes-256-cbc","db":[{"id":1,"repo-key":1,"system-id":7716668363820281053,"version":"15"}],"name":"main","repo":[{"cipher":"aes-256-cbc","key":1,"status":{"code":0,"message":"ok"}}],"status":{"code":0,"lock":{"backup":{"held":false}},"message":"ok"}}]`, 'main');

test('backup list: the last verify is listed when the caller looked, absent otherwise', () => {
  const r = buildVerifyRecord(OK_PARTS);
  assert.deepEqual(listingOf(INFO, null, lastVerifyOf(r)).lastVerify, lastVerifyOf(r));
  assert.equal(listingOf(INFO, null, null).lastVerify, null);
  assert.equal('lastVerify' in listingOf(INFO, null), false);
});

// ---- the operation with fakes ------------------------------------------------------------------

interface World {
  calls: string[];
  removed: number;
  running: boolean;
  starts: number;
}

function fakePgb(w: World, o: { info: string; restoreFails?: boolean; onRestore?: () => void }): PgBackRest {
  return {
    stanza: 'main',
    configFile: '/nowhere/pgbackrest.conf',
    async run(args) {
      w.calls.push(args[0] ?? '');
      if (args[0] === 'verify') return { stdout: OK_OUTPUT, stderr: '' };
      if (args[0] === 'info') return { stdout: o.info, stderr: '' };
      if (args[0] === 'restore') {
        o.onRestore?.();
        if (o.restoreFails) throw new CommandFailedError('pgbackrest restore failed: [040] unable to restore');
        return { stdout: '', stderr: '' };
      }
      throw new Error(`unexpected pgbackrest ${args.join(' ')}`);
    },
  };
}

/** Just what recoverToTarget and the restore test call; the second start fails (no real postgres here). */
function fakeCtl(w: World): PostgresControl {
  const ctl = {
    async writeStaticConfig() {},
    async start() {
      w.starts += 1;
      if (w.starts > 1) throw new CommandFailedError('postgres exited during start (exit 1):\nFATAL:  could not map anonymous shared memory');
      w.running = true;
    },
    async postmasterPid() {
      return w.running ? 4242 : null;
    },
    async observe() {
      return { inRecovery: false, timeline: 2, currentLsn: '0/80000A0', replayLsn: null };
    },
    async stop() {
      w.running = false;
    },
    async logEnd() {
      return '';
    },
    async close() {},
  };
  return ctl as unknown as PostgresControl;
}

async function runWith(o: { info: string; restoreFails?: boolean; archiving?: boolean; abortOnRestore?: boolean }): Promise<{ w: World; record: VerifyRecord | null; error: unknown }> {
  const w: World = { calls: [], removed: 0, running: false, starts: 0 };
  const dir = await mkdtemp(join(tmpdir(), 'ballast-verify-unit-'));
  const ac = new AbortController();
  const pgbOpts = { info: o.info, ...(o.restoreFails ? { restoreFails: true } : {}), ...(o.abortOnRestore ? { onRestore: () => ac.abort(new Error('interrupted')) } : {}) };
  const site: BackupSite = { stanza: 'main', pgbackrest: async () => fakePgb(w, pgbOpts) };
  const scratch: ScratchInstance = {
    dir, runDir: join(dir, 'run'), dataDir: dir, port: 1,
    config: { pgBinDir: '/nonexistent', osUser: 'postgres', ...(o.archiving ? { backup: { stanza: 'main', repo: { kind: 'local', path: '/r' }, archiveTimeoutSec: 60, pushQueueMax: '4GiB', processMax: 2 } } : {}) },
    ctl: fakeCtl(w), pgb: fakePgb(w, pgbOpts),
    async remove() {
      w.removed += 1;
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    const record = await verifyBackups({ site, members: ['pg1', 'pg2'], createScratch: async () => scratch, progress: () => undefined, signal: ac.signal });
    return { w, record, error: null };
  } catch (e) {
    return { w, record: null, error: e };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const infoWith = (backups: boolean): string => {
  const doc = JSON.parse(`[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000007","min":"000000010000000000000001"}],"backup":[],"db":[{"id":1,"repo-key":1,"system-id":1,"version":"15"}],"name":"main","status":{"code":0,"lock":{"backup":{"held":false}},"message":"ok"}}]`) as [Record<string, unknown>];
  if (backups) doc[0].backup = [{ archive: { start: '000000010000000000000003', stop: '000000010000000000000004' }, error: false, info: { delta: 1, repository: { delta: 1, size: 1 }, size: 1 }, label: '20261207-205426F', lsn: { start: '0/3000028', stop: '0/4000050' }, prior: null, timestamp: { start: 1796676866, stop: 1796676869 }, type: 'full' }];
  return JSON.stringify(doc);
};

test('verify operation: restores the newest backup, and removes the scratch instance when the check cannot run', async () => {
  const { w, record } = await runWith({ info: infoWith(true) });
  assert.ok(record);
  assert.deepEqual(w.calls.filter((c) => c !== 'restore'), ['info', 'verify']);
  assert.equal(record.backup, '20261207-205426F');
  assert.equal(record.pgbackrestVerify.ok, true);
  assert.deepEqual({ ...record.restore, seconds: 0 }, { ok: true, seconds: 0, recoveredToLsn: '0/80000A0', timeline: 2, detail: record.restore.detail });
  assert.equal(record.amcheck.ok, false);
  assert.match(record.amcheck.detail, /^the restored instance could not be checked: postgres exited during start/);
  assert.equal(record.ok, false);
  assert.equal(w.removed, 1);
  assert.equal(w.running, false);
});

test('verify operation: no backup yet is a failed verification without a scratch instance', async () => {
  const { w, record } = await runWith({ info: infoWith(false) });
  assert.ok(record);
  assert.equal(record.ok, false);
  assert.equal(record.backup, null);
  assert.match(record.restore.detail, /holds no backup/);
  assert.equal(record.amcheck.method, null);
  assert.equal(w.removed, 0);
});

test('verify operation: a failed restore is recorded and the scratch instance removed', async () => {
  const { w, record } = await runWith({ info: infoWith(true), restoreFails: true });
  assert.ok(record);
  assert.equal(record.restore.ok, false);
  assert.match(record.restore.detail, /unable to restore/);
  assert.match(failureOf(record) ?? '', /^restore: /);
  assert.equal(w.removed, 1);
});

test('verify operation: a scratch instance that would archive is refused before anything is restored', async () => {
  const { w, record } = await runWith({ info: infoWith(true), archiving: true });
  assert.ok(record);
  assert.match(record.restore.detail, /would archive into the repository/);
  assert.equal(w.calls.includes('restore'), false);
  assert.equal(w.removed, 1);
});

test('verify operation: interrupted during the restore, it throws and still removes the scratch instance', async () => {
  const { w, record, error } = await runWith({ info: infoWith(true), abortOnRestore: true });
  assert.equal(record, null);
  assert.match(String(error), /interrupted/);
  assert.equal(w.removed, 1);
});
