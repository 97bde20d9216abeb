// Reads `pgbackrest info --output=json --stanza=S` (pgBackRest 2.45) into Ballast's backup
// records, and answers the questions restore asks of them: the newest backup, the newest one
// before a target time, and the window of times a restore can reach. Pure: text in, data out.
import { InvalidInputError } from '../domain/errors.js';

export interface BackupRecord {
  id: string;
  type: 'full' | 'diff' | 'incr';
  /** Member that took the backup, from the `ballast-member` annotation; null when absent. */
  member: string | null;
  startLsn: string;
  stopLsn: string;
  /** ISO 8601 UTC. */
  startedAt: string;
  stoppedAt: string;
  /** Database size. */
  sizeBytes: number;
  deltaBytes: number;
  repoSizeBytes: number;
  repoDeltaBytes: number;
  prior: string | null;
  walStart: string;
  walStop: string;
  error: boolean;
}

export interface StanzaInfo {
  stanza: string;
  status: { code: number; message: string };
  /** Kept as text: a 64-bit integer that JSON.parse would round. */
  systemId: string | null;
  pgVersion: string | null;
  archiveMin: string | null;
  archiveMax: string | null;
  backups: BackupRecord[];
  backupLockHeld: boolean;
}

export const MEMBER_ANNOTATION = 'ballast-member';

type Json = Record<string, unknown>;

/** Parse the info JSON and pick out one stanza. */
export function parseStanzaInfo(jsonText: string, stanza: string): StanzaInfo {
  let doc: unknown;
  try {
    doc = JSON.parse(quoteSystemIds(jsonText));
  } catch (e) {
    throw new InvalidInputError(
      `pgbackrest info output is not JSON (expected the output of --output=json): ${(e as Error).message}`,
      { cause: e },
    );
  }
  if (!Array.isArray(doc)) throw new InvalidInputError('pgbackrest info output: expected a JSON array of stanzas');
  const names = doc.map((s) => (isObject(s) ? s['name'] : undefined));
  const index = names.indexOf(stanza);
  if (index < 0) {
    const known = names.filter((n) => typeof n === 'string').join(', ') || 'none';
    throw new InvalidInputError(`pgbackrest info output: stanza ${stanza} not found (stanzas listed: ${known})`);
  }
  const s = doc[index] as Json;
  const at = `stanza ${stanza}`;
  const status = readObject(s, 'status', at);
  const dbs = readArray(s, 'db', at);
  const current = dbs.length > 0 ? asObject(dbs[dbs.length - 1], `${at}.db[${dbs.length - 1}]`) : null;
  const archive = pickArchive(readArray(s, 'archive', at), current, at);
  const lock = isObject(status['lock']) && isObject(status['lock']['backup']) ? status['lock']['backup'] : {};
  return {
    stanza,
    status: { code: readNumber(status, 'code', `${at}.status`), message: readString(status, 'message', `${at}.status`) },
    systemId: current ? optionalText(current['system-id']) : null,
    pgVersion: current ? optionalText(current['version']) : null,
    archiveMin: archive ? optionalText(archive['min']) : null,
    archiveMax: archive ? optionalText(archive['max']) : null,
    backups: readArray(s, 'backup', at).map((b, i) => toBackupRecord(b, `${at}.backup[${i}]`)),
    backupLockHeld: lock['held'] === true,
  };
}

/**
 * Times a restore can reach. A restore to a time needs a consistent backup that ended before
 * it, so the window opens at the stop of the oldest good backup; it closes at the newest
 * archived WAL when known, else at the stop of the newest good backup.
 */
export function restorableWindow(
  info: StanzaInfo,
  newestArchivedAt: number | null,
): { from: string | null; to: string | null } {
  const good = goodBackupsByStop(info);
  if (good.length === 0) return { from: null, to: null };
  const oldest = good[0]!;
  const newest = good[good.length - 1]!;
  const to = newestArchivedAt !== null ? new Date(newestArchivedAt).toISOString() : newest.stoppedAt;
  return { from: oldest.stoppedAt, to };
}

/** Newest backup without error, by stop time. */
export function newestBackup(info: StanzaInfo): BackupRecord | null {
  const good = goodBackupsByStop(info);
  return good.length > 0 ? good[good.length - 1]! : null;
}

/** Newest backup without error that had stopped by targetMs (ms epoch). */
export function backupBefore(info: StanzaInfo, targetMs: number): BackupRecord | null {
  const good = goodBackupsByStop(info).filter((b) => Date.parse(b.stoppedAt) <= targetMs);
  return good.length > 0 ? good[good.length - 1]! : null;
}

function goodBackupsByStop(info: StanzaInfo): BackupRecord[] {
  return info.backups
    .filter((b) => !b.error)
    .sort((a, b) => Date.parse(a.stoppedAt) - Date.parse(b.stoppedAt));
}

function toBackupRecord(value: unknown, at: string): BackupRecord {
  const b = asObject(value, at);
  const type = readString(b, 'type', at);
  if (type !== 'full' && type !== 'diff' && type !== 'incr') {
    throw new InvalidInputError(`pgbackrest info output: ${at}.type: expected full, diff or incr, got ${JSON.stringify(type)}`);
  }
  const ts = readObject(b, 'timestamp', at);
  const lsn = readObject(b, 'lsn', at);
  const wal = readObject(b, 'archive', at);
  const info = readObject(b, 'info', at);
  const repo = readObject(info, 'repository', `${at}.info`);
  const annotation = isObject(b['annotation']) ? b['annotation'] : {};
  const member = annotation[MEMBER_ANNOTATION];
  const prior = b['prior'];
  return {
    id: readString(b, 'label', at),
    type,
    member: typeof member === 'string' && member !== '' ? member : null,
    startLsn: readString(lsn, 'start', `${at}.lsn`),
    stopLsn: readString(lsn, 'stop', `${at}.lsn`),
    startedAt: epochSecondsToIso(readNumber(ts, 'start', `${at}.timestamp`)),
    stoppedAt: epochSecondsToIso(readNumber(ts, 'stop', `${at}.timestamp`)),
    sizeBytes: readNumber(info, 'size', `${at}.info`),
    deltaBytes: readNumber(info, 'delta', `${at}.info`),
    repoSizeBytes: readNumber(repo, 'size', `${at}.info.repository`),
    repoDeltaBytes: readNumber(repo, 'delta', `${at}.info.repository`),
    prior: typeof prior === 'string' ? prior : null,
    walStart: readString(wal, 'start', `${at}.archive`),
    walStop: readString(wal, 'stop', `${at}.archive`),
    error: b['error'] === true,
  };
}

/** The archive entry of the current database (matching its id), else the last one. */
function pickArchive(archives: unknown[], current: Json | null, at: string): Json | null {
  if (archives.length === 0) return null;
  const all = archives.map((a, i) => asObject(a, `${at}.archive[${i}]`));
  const match = current ? all.find((a) => isObject(a['database']) && a['database']['id'] === current['id']) : undefined;
  return match ?? all[all.length - 1]!;
}

/**
 * Turn every `"system-id": <digits>` member into `"system-id": "<digits>"` so JSON.parse keeps
 * all 64 bits. Scans token by token so text inside strings (annotations) is left alone.
 */
function quoteSystemIds(text: string): string {
  const key = /"system-id"\s*:\s*(\d+)/y;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const quote = text.indexOf('"', i);
    if (quote < 0) return out + text.slice(i);
    out += text.slice(i, quote);
    i = quote;
    key.lastIndex = i;
    const m = key.exec(text);
    if (m) {
      out += m[0].slice(0, m[0].length - m[1]!.length) + `"${m[1]}"`;
      i = key.lastIndex;
      continue;
    }
    let j = i + 1; // copy the whole string literal, escapes included
    while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
    out += text.slice(i, j + 1);
    i = j + 1;
  }
  return out;
}

function epochSecondsToIso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asObject(v: unknown, at: string): Json {
  if (!isObject(v)) throw new InvalidInputError(`pgbackrest info output: ${at}: expected an object`);
  return v;
}

function readObject(o: Json, key: string, at: string): Json {
  return asObject(o[key], `${at}.${key}`);
}

function readArray(o: Json, key: string, at: string): unknown[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new InvalidInputError(`pgbackrest info output: ${at}.${key}: expected an array`);
  return v;
}

function readString(o: Json, key: string, at: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new InvalidInputError(`pgbackrest info output: ${at}.${key}: expected a string`);
  return v;
}

function readNumber(o: Json, key: string, at: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new InvalidInputError(`pgbackrest info output: ${at}.${key}: expected a number`);
  }
  return v;
}

function optionalText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return null;
}
