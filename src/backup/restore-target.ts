// Restore target flags (--time, --lsn, --xid, --latest): validation, the check against the
// restorable window, and the pgbackrest arguments they become. Pure; "now" is passed in.
import { InvalidInputError } from '../domain/errors.js';
import { formatLsn, parseLsn } from '../domain/lsn.js';

export type RestoreTarget =
  | { kind: 'time'; time: string; ms: number }
  | { kind: 'lsn'; lsn: string }
  | { kind: 'xid'; xid: string }
  | { kind: 'latest' };

export interface RestoreTargetFlags {
  time?: string;
  lsn?: string;
  xid?: string;
  latest?: boolean;
}

const TIME_EXAMPLE = 'e.g. 2026-12-07T19:50:00Z or 2026-12-07T21:50:00+02:00';
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|([+-])(\d{2}):(\d{2}))$/;
const LSN_RE = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;
const MAX_XID = 2n ** 32n - 1n;

/** Exactly one of --time, --lsn, --xid or --latest. */
export function parseRestoreTarget(o: RestoreTargetFlags): RestoreTarget {
  const given = [
    o.time !== undefined ? '--time' : null,
    o.lsn !== undefined ? '--lsn' : null,
    o.xid !== undefined ? '--xid' : null,
    o.latest === true ? '--latest' : null,
  ].filter((f): f is string => f !== null);
  if (given.length === 0) {
    throw new InvalidInputError(
      `a restore target is required: give one of --time <ISO 8601> (${TIME_EXAMPLE}), --lsn <LSN>, --xid <id> or --latest`,
    );
  }
  if (given.length > 1) {
    throw new InvalidInputError(`${given.join(' and ')} were given; give exactly one of --time, --lsn, --xid or --latest`);
  }
  if (o.time !== undefined) return { kind: 'time', time: o.time, ms: parseIsoTime('--time', o.time) };
  if (o.lsn !== undefined) return { kind: 'lsn', lsn: parseTargetLsn(o.lsn) };
  if (o.xid !== undefined) return { kind: 'xid', xid: parseTargetXid(o.xid) };
  return { kind: 'latest' };
}

/**
 * ISO 8601 date and time with an explicit zone (Z or ±HH:MM), optionally with up to three
 * fractional digits; returns ms since the epoch. Impossible dates are caught by rebuilding
 * the fields from the computed instant and comparing.
 */
export function parseIsoTime(flag: string, value: string): number {
  const bad = (why: string): InvalidInputError =>
    new InvalidInputError(
      `${flag}: ${JSON.stringify(value)} ${why}; expected ISO 8601 date and time with a zone, ${TIME_EXAMPLE}`,
    );
  const m = ISO_RE.exec(value);
  if (!m) {
    if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}\.\d{4,}/.test(value)) throw bad('has more than millisecond precision');
    if (/^\d{4}-\d{2}-\d{2} /.test(value)) throw bad('separates date and time with a space instead of T');
    if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(value)) throw bad('has no time zone');
    if (/^\d{4}-\d{2}-\d{2}$/.test(value)) throw bad('is a date without a time');
    throw bad('is not a valid time');
  }
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const millis = m[7] !== undefined ? Number(m[7].padEnd(3, '0')) : 0;
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, millis);
  const same =
    d.getUTCFullYear() === year &&
    d.getUTCMonth() === month - 1 &&
    d.getUTCDate() === day &&
    d.getUTCHours() === hour &&
    d.getUTCMinutes() === minute &&
    d.getUTCSeconds() === second;
  if (!same) throw bad('is not a real date and time');
  let offsetMinutes = 0;
  if (m[8] !== 'Z') {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 14 || om > 59) throw bad('has an impossible zone offset');
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return d.getTime() - offsetMinutes * 60_000;
}

/** A time target must fall inside the restorable window and not in the future. */
export function checkTargetInWindow(
  t: RestoreTarget,
  window: { from: string | null; to: string | null },
  nowMs: number,
): void {
  if (window.from === null) {
    throw new InvalidInputError(`no backup exists yet: take a backup before restoring (${describeTarget(t)})`);
  }
  if (t.kind !== 'time') return;
  const span = `restorable window is ${window.from} .. ${window.to ?? 'now'}`;
  if (t.ms < Date.parse(window.from)) {
    throw new InvalidInputError(`--time ${t.time} is before the oldest backup finished; ${span}`);
  }
  if (t.ms > nowMs) {
    throw new InvalidInputError(`--time ${t.time} is in the future (now is ${new Date(nowMs).toISOString()}); ${span}`);
  }
  if (window.to !== null && t.ms > Date.parse(window.to)) {
    throw new InvalidInputError(`--time ${t.time} is after the newest archived WAL; ${span}`);
  }
}

/** Arguments for `pgbackrest restore`. Times go out in UTC so PostgreSQL cannot misread them. */
export function pgbackrestTargetArgs(t: RestoreTarget): string[] {
  switch (t.kind) {
    case 'time':
      return ['--type=time', `--target=${formatPgTime(t.ms)}`];
    case 'lsn':
      return ['--type=lsn', `--target=${t.lsn}`];
    case 'xid':
      return ['--type=xid', `--target=${t.xid}`];
    case 'latest':
      return ['--type=default'];
  }
}

/** `YYYY-MM-DD HH:MM:SS.mmm+00`, the form recovery_target_time reads without ambiguity. */
export function formatPgTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '+00');
}

function parseTargetLsn(value: string): string {
  if (!LSN_RE.test(value)) {
    throw new InvalidInputError(`--lsn: ${JSON.stringify(value)} is not an LSN; expected two hex numbers of 1-8 digits, e.g. 16/B374D848`);
  }
  return formatLsn(parseLsn(value));
}

function parseTargetXid(value: string): string {
  const bad = (why: string): InvalidInputError =>
    new InvalidInputError(`--xid: ${JSON.stringify(value)} ${why}; expected a transaction id from 1 to ${MAX_XID}, e.g. 1234`);
  if (!/^\d+$/.test(value)) throw bad('is not a decimal number');
  const n = BigInt(value);
  if (n === 0n) throw bad('is zero');
  if (n > MAX_XID) throw bad('is too large');
  return n.toString();
}

function describeTarget(t: RestoreTarget): string {
  switch (t.kind) {
    case 'time':
      return `target time ${t.time}`;
    case 'lsn':
      return `target LSN ${t.lsn}`;
    case 'xid':
      return `target xid ${t.xid}`;
    case 'latest':
      return 'target latest';
  }
}
