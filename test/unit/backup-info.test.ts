// Parsing `pgbackrest info --output=json` (pgBackRest 2.45) and the restore questions asked of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backupBefore,
  newestBackup,
  parseStanzaInfo,
  restorableWindow,
  type BackupRecord,
  type StanzaInfo,
} from '../../src/backup/backup-info.js';
import { InvalidInputError } from '../../src/domain/errors.js';

// Taken from a real `pgbackrest info --output=json --stanza=demo` (2.45), one full and one incr.
const SAMPLE = `[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000011","min":"000000010000000000000001"}],
"backup":[{"archive":{"start":"000000010000000000000009","stop":"000000010000000000000009"},"backrest":{"format":5,"version":"2.45"},"database":{"id":1,"repo-key":1},"error":false,"info":{"delta":24868523,"repository":{"delta":2948416,"size":2948416},"size":24868523},"label":"20261207-204221F","lsn":{"start":"0/9000028","stop":"0/9000100"},"prior":null,"reference":null,"timestamp":{"start":1796676141,"stop":1796676144},"type":"full"},
{"archive":{"start":"000000010000000000000011","stop":"000000010000000000000011"},"backrest":{"format":5,"version":"2.45"},"database":{"id":1,"repo-key":1},"error":false,"info":{"delta":4841740,"repository":{"delta":354016,"size":3055936},"size":27129517},"label":"20261207-204221F_20261207-204322I","lsn":{"start":"0/11000028","stop":"0/11000100"},"prior":"20261207-204221F","reference":["20261207-204221F"],"timestamp":{"start":1796676202,"stop":1796676204},"type":"incr"}],
"cipher":"aes-256-cbc","db":[{"id":1,"repo-key":1,"system-id":7716665092180797768,"version":"15"}],"name":"demo","repo":[{"cipher":"aes-256-cbc","key":1,"status":{"code":0,"message":"ok"}}],
"status":{"code":0,"lock":{"backup":{"held":false}},"message":"ok"}}]`;

const FULL: BackupRecord = {
  id: '20261207-204221F',
  type: 'full',
  member: null,
  startLsn: '0/9000028',
  stopLsn: '0/9000100',
  startedAt: '2026-12-07T20:42:21.000Z',
  stoppedAt: '2026-12-07T20:42:24.000Z',
  sizeBytes: 24868523,
  deltaBytes: 24868523,
  repoSizeBytes: 2948416,
  repoDeltaBytes: 2948416,
  prior: null,
  walStart: '000000010000000000000009',
  walStop: '000000010000000000000009',
  error: false,
};

const INCR: BackupRecord = {
  id: '20261207-204221F_20261207-204322I',
  type: 'incr',
  member: null,
  startLsn: '0/11000028',
  stopLsn: '0/11000100',
  startedAt: '2026-12-07T20:43:22.000Z',
  stoppedAt: '2026-12-07T20:43:24.000Z',
  sizeBytes: 27129517,
  deltaBytes: 4841740,
  repoSizeBytes: 3055936,
  repoDeltaBytes: 354016,
  prior: '20261207-204221F',
  walStart: '000000010000000000000011',
  walStop: '000000010000000000000011',
  error: false,
};

test('backup-info: the real 2.45 sample parses field by field', () => {
  const info = parseStanzaInfo(SAMPLE, 'demo');
  assert.deepEqual(info, {
    stanza: 'demo',
    status: { code: 0, message: 'ok' },
    systemId: '7716665092180797768',
    pgVersion: '15',
    archiveMin: '000000010000000000000001',
    archiveMax: '000000010000000000000011',
    backups: [FULL, INCR],
    backupLockHeld: false,
  } satisfies StanzaInfo);
});

test('backup-info: system-id keeps all 64 bits (JSON.parse alone would round it)', () => {
  const rounded = String((JSON.parse(SAMPLE) as { db: { 'system-id': number }[] }[])[0]!.db[0]!['system-id']);
  assert.notEqual(rounded, '7716665092180797768');
  assert.equal(parseStanzaInfo(SAMPLE, 'demo').systemId, '7716665092180797768');
});

test('backup-info: after stanza-upgrade the current (last) db entry and its archive are used', () => {
  const text = SAMPLE
    .replace('"db":[{"id":1,"repo-key":1,"system-id":7716665092180797768,"version":"15"}]',
      '"db":[{"id":1,"repo-key":1,"system-id": 7716665092180797768,"version":"15"},{"id":2,"repo-key":1,"system-id":\n7716665092180799999,"version":"16"}]')
    .replace('"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000011","min":"000000010000000000000001"}]',
      '"archive":[{"database":{"id":2,"repo-key":1},"id":"16-2","max":"000000010000000000000005","min":"000000010000000000000002"},{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000011","min":"000000010000000000000001"}]');
  const info = parseStanzaInfo(text, 'demo');
  assert.equal(info.systemId, '7716665092180799999');
  assert.equal(info.pgVersion, '16');
  assert.equal(info.archiveMin, '000000010000000000000002');
  assert.equal(info.archiveMax, '000000010000000000000005');
});

test('backup-info: the requested stanza is picked among several; each keeps its own system-id', () => {
  const other = SAMPLE.slice(1, -1).replace('"name":"demo"', '"name":"other"').replace('7716665092180797768', '7716665092180791111');
  const text = `[${other},${SAMPLE.slice(1, -1)}]`;
  assert.equal(parseStanzaInfo(text, 'demo').systemId, '7716665092180797768');
  assert.equal(parseStanzaInfo(text, 'other').systemId, '7716665092180791111');
});

test('backup-info: a "system-id" inside an annotation string is left alone', () => {
  const text = SAMPLE.replace('"label":"20261207-204221F",', '"annotation":{"note":"\\"system-id\\": 42"},"label":"20261207-204221F",');
  const info = parseStanzaInfo(text, 'demo');
  assert.equal(info.systemId, '7716665092180797768');
  assert.equal(info.backups[0]!.member, null);
});

test('backup-info: member comes from the ballast-member annotation', () => {
  const text = SAMPLE.replace('"label":"20261207-204221F",', '"annotation":{"ballast-member":"pg-b","reason":"scheduled"},"label":"20261207-204221F",');
  const info = parseStanzaInfo(text, 'demo');
  assert.equal(info.backups[0]!.member, 'pg-b');
  assert.equal(info.backups[1]!.member, null);
});

test('backup-info: lock held and error flag are read', () => {
  const text = SAMPLE.replace('"held":false', '"held":true').replace('"error":false', '"error":true');
  const info = parseStanzaInfo(text, 'demo');
  assert.equal(info.backupLockHeld, true);
  assert.deepEqual(info.backups.map((b) => b.error), [true, false]);
});

test('backup-info: a stanza with no repository yet has empty lists and nulls', () => {
  const text = '[{"archive":[],"backup":[],"cipher":"none","db":[],"name":"demo","repo":[{"cipher":"none","key":1,"status":{"code":1,"message":"missing stanza path"}}],"status":{"code":1,"lock":{"backup":{"held":false}},"message":"missing stanza path"}}]';
  assert.deepEqual(parseStanzaInfo(text, 'demo'), {
    stanza: 'demo',
    status: { code: 1, message: 'missing stanza path' },
    systemId: null,
    pgVersion: null,
    archiveMin: null,
    archiveMax: null,
    backups: [],
    backupLockHeld: false,
  });
});

const bad: [string, string, string, RegExp][] = [
  ['stanza missing', SAMPLE, 'prod', /stanza prod not found \(stanzas listed: demo\)/],
  ['empty array', '[]', 'demo', /stanza demo not found \(stanzas listed: none\)/],
  ['not JSON', 'ERROR: [055]: unable to load info file', 'demo', /not JSON/],
  ['empty text', '', 'demo', /not JSON/],
  ['object, not array', '{"name":"demo"}', 'demo', /expected a JSON array/],
  ['unknown backup type', SAMPLE.replace('"type":"incr"', '"type":"snapshot"'), 'demo', /backup\[1\]\.type: expected full, diff or incr/],
  ['missing lsn', SAMPLE.replace('"lsn":{"start":"0/9000028","stop":"0/9000100"},', ''), 'demo', /backup\[0\]\.lsn: expected an object/],
  ['timestamp as text', SAMPLE.replace('"stop":1796676144', '"stop":"1796676144"'), 'demo', /backup\[0\]\.timestamp\.stop: expected a number/],
];

for (const [name, text, stanza, re] of bad) {
  test(`backup-info: rejects ${name}`, () => {
    assert.throws(() => parseStanzaInfo(text, stanza), (e: unknown) => e instanceof InvalidInputError && re.test(e.message));
  });
}

// Window and backup choice over a hand-made history.
function record(id: string, stopIso: string, error = false): BackupRecord {
  return { ...FULL, id, stoppedAt: stopIso, startedAt: stopIso, error };
}
function infoWith(backups: BackupRecord[]): StanzaInfo {
  return { ...parseStanzaInfo(SAMPLE, 'demo'), backups };
}
const history = infoWith([
  record('b-broken-oldest', '2026-12-01T00:00:00.000Z', true),
  record('b2', '2026-12-03T00:00:00.000Z'),
  record('b4-broken', '2026-12-05T00:00:00.000Z', true),
  record('b1', '2026-12-02T00:00:00.000Z'), // out of order on purpose
  record('b3', '2026-12-04T00:00:00.000Z'),
]);

test('backup-info: restorableWindow from the oldest good backup to newest archive or backup', () => {
  assert.deepEqual(restorableWindow(history, null), { from: '2026-12-02T00:00:00.000Z', to: '2026-12-04T00:00:00.000Z' });
  assert.deepEqual(restorableWindow(history, Date.parse('2026-12-06T12:00:00Z')), {
    from: '2026-12-02T00:00:00.000Z',
    to: '2026-12-06T12:00:00.000Z',
  });
  assert.deepEqual(restorableWindow(parseStanzaInfo(SAMPLE, 'demo'), null), {
    from: '2026-12-07T20:42:24.000Z',
    to: '2026-12-07T20:43:24.000Z',
  });
  assert.deepEqual(restorableWindow(infoWith([]), Date.parse('2026-12-06T00:00:00Z')), { from: null, to: null });
  assert.deepEqual(restorableWindow(infoWith([record('x', '2026-12-01T00:00:00.000Z', true)]), null), { from: null, to: null });
});

test('backup-info: newestBackup skips failed backups and ignores list order', () => {
  assert.equal(newestBackup(history)?.id, 'b3');
  assert.equal(newestBackup(parseStanzaInfo(SAMPLE, 'demo'))?.id, INCR.id);
  assert.equal(newestBackup(infoWith([])), null);
});

const before: [string, string | null][] = [
  ['2026-12-01T12:00:00Z', null], // only a failed backup before it
  ['2026-12-02T00:00:00Z', 'b1'], // stop time equal to target counts
  ['2026-12-02T23:59:59Z', 'b1'],
  ['2026-12-03T00:00:00Z', 'b2'],
  ['2026-12-05T12:00:00Z', 'b3'], // b4 failed
];

for (const [target, want] of before) {
  test(`backup-info: backupBefore ${target} -> ${want ?? 'none'}`, () => {
    assert.equal(backupBefore(history, Date.parse(target))?.id ?? null, want);
  });
}
