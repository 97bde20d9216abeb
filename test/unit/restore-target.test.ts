// Restore target flags: which are accepted, how they are refused, the window check, and the
// pgbackrest arguments they turn into.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkTargetInWindow,
  parseIsoTime,
  parseRestoreTarget,
  pgbackrestTargetArgs,
  type RestoreTarget,
  type RestoreTargetFlags,
} from '../../src/backup/restore-target.js';
import { InvalidInputError } from '../../src/domain/errors.js';

const T = Date.parse('2026-12-07T19:50:00Z');

const good: [string, RestoreTargetFlags, RestoreTarget, string[]][] = [
  ['time in UTC', { time: '2026-12-07T19:50:00Z' }, { kind: 'time', time: '2026-12-07T19:50:00Z', ms: T },
    ['--type=time', '--target=2026-12-07 19:50:00.000+00']],
  ['time with milliseconds', { time: '2026-12-07T19:50:00.123Z' }, { kind: 'time', time: '2026-12-07T19:50:00.123Z', ms: T + 123 },
    ['--type=time', '--target=2026-12-07 19:50:00.123+00']],
  ['time with one fractional digit', { time: '2026-12-07T19:50:00.5Z' }, { kind: 'time', time: '2026-12-07T19:50:00.5Z', ms: T + 500 },
    ['--type=time', '--target=2026-12-07 19:50:00.500+00']],
  ['time east of UTC', { time: '2026-12-07T21:50:00+02:00' }, { kind: 'time', time: '2026-12-07T21:50:00+02:00', ms: T },
    ['--type=time', '--target=2026-12-07 19:50:00.000+00']],
  ['time west of UTC, half hour', { time: '2026-12-07T14:20:00-05:30' }, { kind: 'time', time: '2026-12-07T14:20:00-05:30', ms: T },
    ['--type=time', '--target=2026-12-07 19:50:00.000+00']],
  ['offset crossing midnight and a year', { time: '2027-01-01T01:30:00+02:00' },
    { kind: 'time', time: '2027-01-01T01:30:00+02:00', ms: Date.parse('2026-12-31T23:30:00Z') },
    ['--type=time', '--target=2026-12-31 23:30:00.000+00']],
  ['leap day', { time: '2028-02-29T12:00:00Z' }, { kind: 'time', time: '2028-02-29T12:00:00Z', ms: Date.parse('2028-02-29T12:00:00Z') },
    ['--type=time', '--target=2028-02-29 12:00:00.000+00']],
  ['lsn', { lsn: '16/B374D848' }, { kind: 'lsn', lsn: '16/B374D848' }, ['--type=lsn', '--target=16/B374D848']],
  ['lsn with leading zeros, normalised', { lsn: '0/03000148' }, { kind: 'lsn', lsn: '0/3000148' }, ['--type=lsn', '--target=0/3000148']],
  ['lsn lower-case hex', { lsn: 'a/b374d848' }, { kind: 'lsn', lsn: 'A/B374D848' }, ['--type=lsn', '--target=A/B374D848']],
  ['xid', { xid: '1234' }, { kind: 'xid', xid: '1234' }, ['--type=xid', '--target=1234']],
  ['largest xid', { xid: '4294967295' }, { kind: 'xid', xid: '4294967295' }, ['--type=xid', '--target=4294967295']],
  ['latest', { latest: true }, { kind: 'latest' }, ['--type=default']],
  ['latest false does not count as given', { latest: false, xid: '7' }, { kind: 'xid', xid: '7' }, ['--type=xid', '--target=7']],
];

for (const [name, flags, want, args] of good) {
  test(`restore-target: accepts ${name}`, () => {
    const t = parseRestoreTarget(flags);
    assert.deepEqual(t, want);
    assert.deepEqual(pgbackrestTargetArgs(t), args);
  });
}

const bad: [string, RestoreTargetFlags, RegExp][] = [
  ['no flag', {}, /restore target is required: give one of --time .*--lsn.*--xid.*--latest/],
  ['latest false alone', { latest: false }, /restore target is required/],
  ['two flags', { time: '2026-12-07T19:50:00Z', lsn: '0/1' }, /--time and --lsn were given; give exactly one/],
  ['three flags', { lsn: '0/1', xid: '5', latest: true }, /--lsn and --xid and --latest were given/],
  ['space instead of T', { time: '2026-12-07 19:50:00Z' }, /--time: .* space instead of T; expected ISO 8601.*e\.g\. 2026-12-07T19:50:00Z/],
  ['no zone', { time: '2026-12-07T19:50:00' }, /has no time zone; expected .*e\.g\./],
  ['date only', { time: '2026-12-07' }, /is a date without a time/],
  ['now', { time: 'now' }, /--time: "now" is not a valid time; expected ISO 8601/],
  ['garbage', { time: 'yesterday at noon' }, /is not a valid time/],
  ['empty time', { time: '' }, /--time: "" is not a valid time/],
  ['month 13', { time: '2026-13-07T19:50:00Z' }, /is not a real date and time/],
  ['February 30', { time: '2026-02-30T12:00:00Z' }, /is not a real date and time/],
  ['February 29 in a common year', { time: '2027-02-29T12:00:00Z' }, /is not a real date and time/],
  ['April 31', { time: '2026-04-31T12:00:00Z' }, /is not a real date and time/],
  ['hour 25', { time: '2026-12-07T25:00:00Z' }, /is not a real date and time/],
  ['hour 24', { time: '2026-12-07T24:00:00Z' }, /is not a real date and time/],
  ['minute 60', { time: '2026-12-07T19:60:00Z' }, /is not a real date and time/],
  ['second 60', { time: '2026-12-07T19:50:60Z' }, /is not a real date and time/],
  ['day 0', { time: '2026-12-00T19:50:00Z' }, /is not a real date and time/],
  ['offset hours 15', { time: '2026-12-07T19:50:00+15:00' }, /impossible zone offset/],
  ['offset without colon', { time: '2026-12-07T19:50:00+0200' }, /is not a valid time/],
  ['zone name', { time: '2026-12-07T19:50:00 UTC' }, /is not a valid time/],
  ['microseconds', { time: '2026-12-07T19:50:00.123456Z' }, /more than millisecond precision/],
  ['lower-case t', { time: '2026-12-07t19:50:00Z' }, /is not a valid time/],
  ['lsn without slash', { lsn: '16B374D848' }, /--lsn: "16B374D848" is not an LSN; expected .*e\.g\. 16\/B374D848/],
  ['lsn with 9 hex digits', { lsn: '0/123456789' }, /--lsn: .* is not an LSN/],
  ['lsn not hex', { lsn: '0/XYZ' }, /is not an LSN/],
  ['lsn empty half', { lsn: '/3000148' }, /is not an LSN/],
  ['xid zero', { xid: '0' }, /--xid: "0" is zero; expected a transaction id from 1 to 4294967295/],
  ['xid negative', { xid: '-5' }, /--xid: "-5" is not a decimal number/],
  ['xid with plus', { xid: '+5' }, /is not a decimal number/],
  ['xid hex', { xid: '0x10' }, /is not a decimal number/],
  ['xid fraction', { xid: '1.5' }, /is not a decimal number/],
  ['xid too large', { xid: '4294967296' }, /is too large/],
  ['xid empty', { xid: '' }, /is not a decimal number/],
];

for (const [name, flags, re] of bad) {
  test(`restore-target: rejects ${name}`, () => {
    assert.throws(() => parseRestoreTarget(flags), (e: unknown) => e instanceof InvalidInputError && re.test(e.message));
  });
}

test('restore-target: parseIsoTime names the flag it was given', () => {
  assert.equal(parseIsoTime('--until', '1970-01-01T00:00:01Z'), 1000);
  assert.throws(() => parseIsoTime('--until', 'soon'), /^InvalidInputError: --until: "soon"/);
});

const window = { from: '2026-12-01T00:00:00.000Z', to: '2026-12-07T19:00:00.000Z' };
const now = Date.parse('2026-12-07T20:00:00Z');
const time = (iso: string): RestoreTarget => parseRestoreTarget({ time: iso });

const windowCases: [string, RestoreTarget, { from: string | null; to: string | null }, RegExp | null][] = [
  ['inside the window', time('2026-12-05T00:00:00Z'), window, null],
  ['exactly at the start', time('2026-12-01T00:00:00Z'), window, null],
  ['exactly at the end', time('2026-12-07T19:00:00Z'), window, null],
  ['before the oldest backup', time('2026-11-30T23:59:59Z'), window,
    /--time 2026-11-30T23:59:59Z is before .*restorable window is 2026-12-01T00:00:00.000Z \.\. 2026-12-07T19:00:00.000Z/],
  ['after the newest archive', time('2026-12-07T19:30:00Z'), window,
    /--time 2026-12-07T19:30:00Z is after the newest archived WAL; restorable window is 2026-12-01T00:00:00.000Z \.\. 2026-12-07T19:00:00.000Z/],
  ['in the future', time('2026-12-07T20:00:01Z'), window, /--time 2026-12-07T20:00:01Z is in the future/],
  ['in the future, window open-ended', time('2026-12-08T00:00:00Z'), { from: window.from, to: null },
    /is in the future .*restorable window is 2026-12-01T00:00:00.000Z \.\. now/],
  ['open-ended window, before now', time('2026-12-07T19:59:00Z'), { from: window.from, to: null }, null],
  ['time with no backup', time('2026-12-05T00:00:00Z'), { from: null, to: null }, /^no backup exists yet: .*target time 2026-12-05T00:00:00Z/],
  ['lsn with no backup', { kind: 'lsn', lsn: '0/1' }, { from: null, to: null }, /^no backup exists yet: .*target LSN 0\/1/],
  ['xid with no backup', { kind: 'xid', xid: '9' }, { from: null, to: null }, /^no backup exists yet/],
  ['latest with no backup', { kind: 'latest' }, { from: null, to: null }, /^no backup exists yet/],
  ['lsn is not checked against times', { kind: 'lsn', lsn: '0/1' }, window, null],
  ['latest with a backup', { kind: 'latest' }, window, null],
];

for (const [name, t, w, re] of windowCases) {
  test(`restore-target: window check, ${name}`, () => {
    if (re === null) {
      assert.doesNotThrow(() => checkTargetInWindow(t, w, now));
    } else {
      assert.throws(() => checkTargetInWindow(t, w, now), (e: unknown) => e instanceof InvalidInputError && re.test(e.message));
    }
  });
}
