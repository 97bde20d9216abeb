// Backup schedules: 5-field cron (minute hour day-of-month month day-of-week) plus @hourly,
// @daily and @weekly, evaluated in UTC; and the choice of which backup type is due now.
// Pure: the clock is passed in.
import { InvalidInputError } from '../domain/errors.js';

export interface CronSchedule {
  text: string;
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  /** 0-6, Sunday is 0 (a 7 in the text is stored as 0). */
  weekdays: Set<number>;
  /** A field counts as restricted unless it starts with `*` (as in Vixie cron). */
  domRestricted: boolean;
  dowRestricted: boolean;
}

export interface BackupSchedule {
  full: string;
  diff: string;
  incr: string;
}

export const DEFAULT_BACKUP_SCHEDULE: BackupSchedule = { full: '0 1 * * 0', diff: '0 1 * * 1-6', incr: '30 * * * *' };

import type { BackupType } from '../domain/types.js';
export type { BackupType };

const SHORTHANDS: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@weekly': '0 0 * * 0',
};

interface FieldSpec {
  name: string;
  min: number;
  max: number;
}

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day-of-week', min: 0, max: 7 },
];

/** Longest month of each month (February may have 29 days). */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const CRON_HINT = "expected 5 fields 'minute hour day-of-month month day-of-week' (e.g. '0 1 * * 0') or @hourly, @daily, @weekly";
const MINUTE_MS = 60_000;
const SEARCH_YEARS = 30;
const SEARCH_LIMIT_MS = SEARCH_YEARS * 366 * 24 * 60 * MINUTE_MS;

/** Parse a cron expression; `field` names the setting in error messages. */
export function parseCron(field: string, text: string): CronSchedule {
  const original = text.trim();
  const fail = (why: string): InvalidInputError => new InvalidInputError(`${field}: '${text}': ${why}`);
  if (original === '') throw fail(`the schedule is empty; ${CRON_HINT}`);
  let expanded = original;
  if (original.startsWith('@')) {
    const s = SHORTHANDS[original.toLowerCase()];
    if (s === undefined) throw fail(`unknown shorthand ${original}; ${CRON_HINT}`);
    expanded = s;
  }
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5) throw fail(`has ${parts.length} field${parts.length === 1 ? '' : 's'}; ${CRON_HINT}`);
  const sets = parts.map((p, i) => parseField(p, FIELDS[i]!, fail));
  const [minutes, hours, days, months, weekdays] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (weekdays.delete(7)) weekdays.add(0);
  const schedule: CronSchedule = {
    text: original,
    minutes,
    hours,
    days,
    months,
    weekdays,
    domRestricted: !parts[2]!.startsWith('*'),
    dowRestricted: !parts[4]!.startsWith('*'),
  };
  const reachable = [...months].some((mo) => [...days].some((d) => d <= MONTH_DAYS[mo - 1]!));
  if (!reachable && !(schedule.domRestricted && schedule.dowRestricted)) {
    throw fail('the day-of-month never occurs in the given months');
  }
  return schedule;
}

/** First whole minute strictly after afterMs (UTC) that the schedule matches. */
export function nextRun(s: CronSchedule, afterMs: number): number {
  const d = new Date((Math.floor(afterMs / MINUTE_MS) + 1) * MINUTE_MS);
  const limit = afterMs + SEARCH_LIMIT_MS;
  while (d.getTime() <= limit) {
    if (!s.months.has(d.getUTCMonth() + 1)) {
      d.setUTCMonth(d.getUTCMonth() + 1, 1);
      d.setUTCHours(0, 0, 0, 0);
    } else if (!matchesDay(s, d)) {
      d.setUTCDate(d.getUTCDate() + 1);
      d.setUTCHours(0, 0, 0, 0);
    } else if (!s.hours.has(d.getUTCHours())) {
      d.setUTCHours(d.getUTCHours() + 1, 0, 0, 0);
    } else if (!s.minutes.has(d.getUTCMinutes())) {
      d.setUTCMinutes(d.getUTCMinutes() + 1, 0, 0);
    } else {
      return d.getTime();
    }
  }
  throw new InvalidInputError(`schedule '${s.text}' has no run in the ${SEARCH_YEARS} years after ${new Date(afterMs).toISOString()}`);
}

/**
 * The backup type to take now, if any. A type is due when its schedule has fired since its
 * last run. With no full backup yet, full is due at once. A diff or incr that never ran
 * counts from the newest backup it could build on (full; full or diff), and is not due
 * when there is none. When several are due, full wins over diff over incr.
 */
export function dueBackup(
  schedule: BackupSchedule,
  lastRunMs: { full: number | null; diff: number | null; incr: number | null },
  nowMs: number,
): BackupType | null {
  const full = parseCron('backups.schedule.full', schedule.full);
  const diff = parseCron('backups.schedule.diff', schedule.diff);
  const incr = parseCron('backups.schedule.incr', schedule.incr);
  if (lastRunMs.full === null) return 'full';
  if (nextRun(full, lastRunMs.full) <= nowMs) return 'full';
  const diffBase = lastRunMs.diff ?? lastRunMs.full;
  if (nextRun(diff, diffBase) <= nowMs) return 'diff';
  const incrBase = lastRunMs.incr ?? Math.max(lastRunMs.full, lastRunMs.diff ?? lastRunMs.full);
  if (nextRun(incr, incrBase) <= nowMs) return 'incr';
  return null;
}

function matchesDay(s: CronSchedule, d: Date): boolean {
  const dom = s.days.has(d.getUTCDate());
  const dow = s.weekdays.has(d.getUTCDay());
  return s.domRestricted && s.dowRestricted ? dom || dow : dom && dow;
}

function parseField(text: string, spec: FieldSpec, fail: (why: string) => InvalidInputError): Set<number> {
  const out = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') throw fail(`${spec.name} field '${text}' has an empty list item`);
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
    if (!m) throw fail(`${spec.name} '${item}' is not a number, *, range a-b or step */n, a-b/n`);
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (m[4] !== undefined && step < 1) throw fail(`${spec.name} step '${item}' must be at least 1`);
    let lo = spec.min;
    let hi = spec.max;
    if (m[1] !== '*') {
      lo = checkRange(Number(m[2]), spec, fail);
      hi = m[3] !== undefined ? checkRange(Number(m[3]), spec, fail) : lo;
      if (m[4] !== undefined && m[3] === undefined) {
        throw fail(`${spec.name} step '${item}' needs a range or *, e.g. */${m[4]} or ${lo}-${spec.max}/${m[4]}`);
      }
      if (lo > hi) throw fail(`${spec.name} range ${lo}-${hi} runs backwards`);
    } else if (spec.name === 'day-of-week') {
      hi = 6; // * means Sunday once, not 0 and 7
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function checkRange(v: number, spec: FieldSpec, fail: (why: string) => InvalidInputError): number {
  if (v < spec.min || v > spec.max) throw fail(`${spec.name} ${v} is out of range ${spec.min}-${spec.max}`);
  return v;
}
