// The cluster spec's `backups` section: schedule (cron, UTC) and retention. Pure: validation
// with errors that name the field, and the defaults that apply when a spec has no section.
import { InvalidInputError } from '../domain/errors.js';
import type { BackupSpec, ClusterSpec } from '../domain/types.js';
import { DEFAULT_BACKUP_SCHEDULE, parseCron } from './schedule.js';

export type { BackupSpec };

export const RETENTION_FULL_MAX = 100;
export const RETENTION_DAYS_MAX = 9999;

/** Full weekly, diff daily, incr hourly; keep two full backups. */
export const DEFAULT_BACKUP_SPEC: BackupSpec = {
  schedule: { ...DEFAULT_BACKUP_SCHEDULE },
  retention: { full: 2, days: null },
};

/** The backups section in force: the spec's own, or the defaults. Does not validate. */
export function backupSpecOf(spec: ClusterSpec | null): BackupSpec {
  return structuredClone(spec?.backups ?? DEFAULT_BACKUP_SPEC);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function onlyKeys(field: string, o: Record<string, unknown>, allowed: string[]): void {
  const unknown = Object.keys(o).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new InvalidInputError(`${field}: unknown key${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')} (expected ${allowed.join(', ')})`);
}

function section(field: string, x: unknown, allowed: string[]): Record<string, unknown> {
  if (!isObject(x)) throw new InvalidInputError(`${field} must be an object with ${allowed.join(', ')} (got ${JSON.stringify(x) ?? 'nothing'})`);
  onlyKeys(field, x, allowed);
  return x;
}

function wholeNumber(field: string, x: unknown, min: number, max: number): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
    throw new InvalidInputError(`${field} must be a whole number from ${min} to ${max} (got ${JSON.stringify(x) ?? 'nothing'})`);
  }
  return x;
}

function cron(field: string, x: unknown): string {
  if (typeof x !== 'string') throw new InvalidInputError(`${field} must be a cron expression such as '0 1 * * 0' (got ${JSON.stringify(x) ?? 'nothing'})`);
  return parseCron(field, x).text;
}

/**
 * Validate a `backups` section (from etcd, a YAML spec or CLI flags): every field present, cron
 * expressions parse, retention within bounds, no unknown keys. Throws InvalidInputError naming
 * the field (`backups.schedule.diff: '0 25 * * *': hour 25 is out of range 0-23`).
 */
export function validateBackupSpec(x: unknown, field = 'backups'): BackupSpec {
  const b = section(field, x, ['schedule', 'retention']);
  const s = section(`${field}.schedule`, b.schedule, ['full', 'diff', 'incr']);
  const r = section(`${field}.retention`, b.retention, ['full', 'days']);
  return {
    schedule: {
      full: cron(`${field}.schedule.full`, s.full),
      diff: cron(`${field}.schedule.diff`, s.diff),
      incr: cron(`${field}.schedule.incr`, s.incr),
    },
    retention: {
      full: wholeNumber(`${field}.retention.full`, r.full, 1, RETENTION_FULL_MAX),
      days: r.days === null ? null : wholeNumber(`${field}.retention.days`, r.days, 1, RETENTION_DAYS_MAX),
    },
  };
}

/** Retention in words, as pgBackRest applies it. */
export function describeRetention(r: BackupSpec['retention']): string {
  if (r.days !== null) {
    return `keep full backups for ${r.days} day${r.days === 1 ? '' : 's'} (time-based; the count ${r.full} applies again when days is none)`;
  }
  return `keep the newest ${r.full} full backup${r.full === 1 ? '' : 's'} and the diff/incr backups and WAL that depend on them`;
}
