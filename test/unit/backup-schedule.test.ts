// Backup schedules: cron parsing, the next run in UTC, and which backup type is due.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_BACKUP_SCHEDULE, dueBackup, nextRun, parseCron, type BackupSchedule } from '../../src/backup/schedule.js';
import { InvalidInputError } from '../../src/domain/errors.js';

const F = 'backups.schedule.full';
const ms = (iso: string): number => Date.parse(iso);
const sorted = (s: Set<number>): number[] => [...s].sort((a, b) => a - b);

test('schedule: fields expand to sets; lists, ranges and steps', () => {
  const s = parseCron(F, ' */20 0-2,22 1,15 1-12/3 1-5 ');
  assert.equal(s.text, '*/20 0-2,22 1,15 1-12/3 1-5');
  assert.deepEqual(sorted(s.minutes), [0, 20, 40]);
  assert.deepEqual(sorted(s.hours), [0, 1, 2, 22]);
  assert.deepEqual(sorted(s.days), [1, 15]);
  assert.deepEqual(sorted(s.months), [1, 4, 7, 10]);
  assert.deepEqual(sorted(s.weekdays), [1, 2, 3, 4, 5]);
  assert.equal(s.domRestricted, true);
  assert.equal(s.dowRestricted, true);
});

test('schedule: stars are unrestricted; day-of-week * is 0-6 and 7 becomes 0', () => {
  const s = parseCron(F, '* * * * *');
  assert.equal(s.minutes.size, 60);
  assert.equal(s.hours.size, 24);
  assert.equal(s.days.size, 31);
  assert.equal(s.months.size, 12);
  assert.deepEqual(sorted(s.weekdays), [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(s.domRestricted, false);
  assert.equal(s.dowRestricted, false);
  assert.deepEqual(sorted(parseCron(F, '0 0 * * 7').weekdays), [0]);
  assert.deepEqual(sorted(parseCron(F, '0 0 * * 5-7').weekdays), [0, 5, 6]);
  assert.deepEqual(sorted(parseCron(F, '0 0 * * 0,7').weekdays), [0]);
  assert.equal(parseCron(F, '0 0 */2 * *').domRestricted, false); // Vixie rule: starts with *
});

test('schedule: shorthands expand to their 5-field forms and keep their text', () => {
  for (const [short, long] of [['@hourly', '0 * * * *'], ['@daily', '0 0 * * *'], ['@weekly', '0 0 * * 0']] as const) {
    const a = parseCron(F, short);
    const b = parseCron(F, long);
    assert.equal(a.text, short);
    assert.deepEqual({ ...a, text: '' }, { ...b, text: '' });
  }
});

const runs: [string, string, string, string][] = [
  ['every 15 minutes', '*/15 * * * *', '2026-12-07T10:07:30Z', '2026-12-07T10:15:00Z'],
  ['strictly after a matching minute', '0 * * * *', '2026-12-07T10:00:00Z', '2026-12-07T11:00:00Z'],
  ['seconds into a matching minute', '0 * * * *', '2026-12-07T10:00:59.999Z', '2026-12-07T11:00:00Z'],
  ['@hourly', '@hourly', '2026-12-07T10:59:00Z', '2026-12-07T11:00:00Z'],
  ['@daily over the year end', '@daily', '2026-12-31T23:59:00Z', '2027-01-01T00:00:00Z'],
  ['@weekly from a Monday', '@weekly', '2026-12-07T00:00:00Z', '2026-12-13T00:00:00Z'],
  ['list of minutes', '5,35 * * * *', '2026-12-07T10:06:00Z', '2026-12-07T10:35:00Z'],
  ['hour range with step', '0 9-17/4 * * *', '2026-12-07T09:00:00Z', '2026-12-07T13:00:00Z'],
  ['hour range with step, wraps to next day', '0 9-17/4 * * *', '2026-12-07T17:00:00Z', '2026-12-08T09:00:00Z'],
  ['31st skips a 30-day month', '0 0 31 * *', '2026-11-15T00:00:00Z', '2026-12-31T00:00:00Z'],
  ['31st after December 31', '0 0 31 * *', '2026-12-31T00:00:00Z', '2027-01-31T00:00:00Z'],
  ['31st skips February', '0 0 31 * *', '2027-01-31T00:00:00Z', '2027-03-31T00:00:00Z'],
  ['first of the month', '0 0 1 * *', '2026-12-15T00:00:00Z', '2027-01-01T00:00:00Z'],
  ['February 29 waits for a leap year', '0 0 29 2 *', '2026-03-01T00:00:00Z', '2028-02-29T00:00:00Z'],
  ['February only', '0 0 * 2 *', '2026-12-07T00:00:00Z', '2027-02-01T00:00:00Z'],
  ['Sunday as 0', '0 1 * * 0', '2026-12-07T00:00:00Z', '2026-12-13T01:00:00Z'],
  ['Sunday as 7', '0 1 * * 7', '2026-12-07T00:00:00Z', '2026-12-13T01:00:00Z'],
  ['range 5-7 includes Friday', '0 1 * * 5-7', '2026-12-07T00:00:00Z', '2026-12-11T01:00:00Z'],
  ['range 5-7 includes Sunday', '0 1 * * 5-7', '2026-12-12T02:00:00Z', '2026-12-13T01:00:00Z'],
  ['default diff skips Sunday', '0 1 * * 1-6', '2026-12-12T01:00:00Z', '2026-12-14T01:00:00Z'],
  ['dom or dow: Friday comes first', '0 0 13 * 5', '2026-12-07T00:00:00Z', '2026-12-11T00:00:00Z'],
  ['dom or dow: the 13th (a Sunday) next', '0 0 13 * 5', '2026-12-11T00:00:00Z', '2026-12-13T00:00:00Z'],
  ['dom or dow: the next Friday after', '0 0 13 * 5', '2026-12-13T00:00:00Z', '2026-12-18T00:00:00Z'],
  ['dom */2 starts with *, so both must match', '0 0 */2 * 1', '2026-12-07T00:00:00Z', '2026-12-21T00:00:00Z'],
  ['dow only: Mondays', '0 0 * * 1', '2026-12-07T00:00:00Z', '2026-12-14T00:00:00Z'],
  ['UTC through the EU spring change', '30 1 * * *', '2026-03-29T00:00:00Z', '2026-03-29T01:30:00Z'],
  ['UTC through the EU autumn change: 24 h apart', '30 1 * * *', '2026-10-25T01:30:00Z', '2026-10-26T01:30:00Z'],
];

for (const [name, cron, after, want] of runs) {
  test(`schedule: nextRun ${name} ('${cron}' after ${after})`, () => {
    assert.equal(new Date(nextRun(parseCron(F, cron), ms(after))).toISOString(), new Date(ms(want)).toISOString());
  });
}

const bad: [string, RegExp][] = [
  ['61 * * * *', /^backups\.schedule\.full: '61 \* \* \* \*': minute 61 is out of range 0-59$/],
  ['', /^backups\.schedule\.full: '': the schedule is empty; expected 5 fields/],
  ['   ', /the schedule is empty/],
  ['* * * *', /: has 4 fields; expected 5 fields 'minute hour day-of-month month day-of-week'/],
  ['* * * * * *', /has 6 fields/],
  ['*/0 * * * *', /minute step '\*\/0' must be at least 1/],
  ['5/10 * * * *', /minute step '5\/10' needs a range or \*, e\.g\. \*\/10 or 5-59\/10/],
  ['*/x * * * *', /minute '\*\/x' is not a number/],
  ['10-5 * * * *', /minute range 10-5 runs backwards/],
  ['-1 * * * *', /minute '-1' is not a number/],
  ['1,,2 * * * *', /minute field '1,,2' has an empty list item/],
  ['0 24 * * *', /hour 24 is out of range 0-23/],
  ['0 0 0 * *', /day-of-month 0 is out of range 1-31/],
  ['0 0 32 * *', /day-of-month 32 is out of range 1-31/],
  ['0 0 * 13 *', /month 13 is out of range 1-12/],
  ['0 0 * 0 *', /month 0 is out of range 1-12/],
  ['0 0 * * 8', /day-of-week 8 is out of range 0-7/],
  ['0 0 * * MON', /day-of-week 'MON' is not a number/],
  ['@monthly', /unknown shorthand @monthly; expected/],
  ['0 0 30 2 *', /day-of-month never occurs in the given months/],
  ['0 0 31 4,6,9,11 *', /day-of-month never occurs/],
];

for (const [text, re] of bad) {
  test(`schedule: rejects '${text}'`, () => {
    assert.throws(() => parseCron(F, text), (e: unknown) => e instanceof InvalidInputError && re.test(e.message));
  });
}

test('schedule: February 30 is allowed when day-of-week can match instead', () => {
  const s = parseCron(F, '0 0 30 2 1');
  assert.equal(new Date(nextRun(s, ms('2027-01-31T00:00:00Z'))).toISOString(), '2027-02-01T00:00:00.000Z');
});

// Default schedule: full Sunday 01:00, diff Monday-Saturday 01:00, incr at :30 every hour.
const SUN = ms('2026-12-06T01:00:00Z');
const due: [string, { full: number | null; diff: number | null; incr: number | null }, string, 'full' | 'diff' | 'incr' | null][] = [
  ['no backup at all', { full: null, diff: null, incr: null }, '2026-12-07T00:00:00Z', 'full'],
  ['no full, though others ran', { full: null, diff: SUN, incr: SUN }, '2026-12-06T01:05:00Z', 'full'],
  ['just after a full', { full: SUN, diff: null, incr: null }, '2026-12-06T01:10:00Z', null],
  ['incr counts from the full when it never ran', { full: SUN, diff: null, incr: null }, '2026-12-06T01:30:00Z', 'incr'],
  ['incr not yet', { full: SUN, diff: null, incr: ms('2026-12-07T00:30:00Z') }, '2026-12-07T00:45:00Z', null],
  ['diff wins over incr', { full: SUN, diff: null, incr: ms('2026-12-07T00:30:00Z') }, '2026-12-07T01:00:00Z', 'diff'],
  ['incr counts from the newer diff', { full: SUN, diff: ms('2026-12-07T01:00:00Z'), incr: null }, '2026-12-07T01:29:00Z', null],
  ['incr after the diff', { full: SUN, diff: ms('2026-12-07T01:00:00Z'), incr: null }, '2026-12-07T01:30:00Z', 'incr'],
  ['full wins a week later', { full: SUN, diff: ms('2026-12-12T01:00:00Z'), incr: ms('2026-12-12T23:30:00Z') }, '2026-12-13T01:00:00Z', 'full'],
  ['missed runs are still due', { full: SUN, diff: ms('2026-12-07T01:00:00Z'), incr: ms('2026-12-07T01:30:00Z') }, '2026-12-09T12:00:00Z', 'diff'],
];

for (const [name, last, now, want] of due) {
  test(`schedule: dueBackup ${name} -> ${want ?? 'nothing'}`, () => {
    assert.equal(dueBackup(DEFAULT_BACKUP_SCHEDULE, last, ms(now)), want);
  });
}

test('schedule: dueBackup names the setting of a bad schedule', () => {
  const s: BackupSchedule = { ...DEFAULT_BACKUP_SCHEDULE, diff: '0 1 * * 1-6 *' };
  assert.throws(
    () => dueBackup(s, { full: SUN, diff: null, incr: null }, SUN + 1),
    (e: unknown) => e instanceof InvalidInputError && /^backups\.schedule\.diff: '0 1 \* \* 1-6 \*': has 6 fields/.test(e.message),
  );
});
