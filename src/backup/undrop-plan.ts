// Pure parts of `ballast undrop`: the table name, the commit that dropped (or truncated) it as
// pg_waldump prints it, and the name the table comes back under. No I/O.
import { InvalidInputError } from '../domain/errors.js';

export interface TableName {
  schema: string;
  name: string;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

/** `schema.name` or `name` (schema public); plain identifiers, taken exactly as written. */
export function parseTableName(flag: string, text: string): TableName {
  const parts = text.split('.');
  if (parts.length > 2 || parts.some((p) => !IDENT.test(p))) {
    throw new InvalidInputError(`${flag} ${JSON.stringify(text)} is not SCHEMA.NAME or NAME (letters, digits, _ and $, starting with a letter or _, at most 63 each)`);
  }
  return parts.length === 2 ? { schema: parts[0] as string, name: parts[1] as string } : { schema: 'public', name: parts[0] as string };
}

export function parseIdentifier(flag: string, text: string): string {
  if (!IDENT.test(text)) throw new InvalidInputError(`${flag} ${JSON.stringify(text)} is not a plain identifier (letters, digits, _ and $, starting with a letter or _, at most 63)`);
  return text;
}

export interface WalCommit {
  xid: string;
  lsn: string;
  /** Commit time as pg_waldump prints it (server time zone, here UTC). */
  time: string;
  /** Relation files the commit dropped, e.g. base/16384/16390. */
  rels: string[];
}

const COMMIT = /tx:\s+(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+),.*desc: COMMIT (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [A-Z]+)?)(.*)$/;

/** Commit records of `pg_waldump --rmgr=Transaction` output (others are skipped). */
export function parseWaldumpCommits(text: string): WalCommit[] {
  const out: WalCommit[] = [];
  for (const line of text.split('\n')) {
    const m = COMMIT.exec(line);
    if (!m) continue;
    const rest = m[4] ?? '';
    const rels = /; rels: ([^;]*)/.exec(rest)?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
    out.push({ xid: m[1] as string, lsn: m[2] as string, time: (m[3] as string).trim(), rels });
  }
  return out;
}

/** The first commit that dropped one of these relation files (the table, its TOAST, its indexes). */
export function findDropCommit(commits: WalCommit[], relFiles: string[]): WalCommit | null {
  const wanted = new Set(relFiles);
  return commits.find((c) => c.rels.some((r) => wanted.has(r))) ?? null;
}

/** pg_waldump's commit time ("2026-12-07 20:51:50.614518 UTC") as ISO 8601. */
export function waldumpTimeToIso(t: string): string | null {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)(?: (UTC|GMT))?$/.exec(t);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}T${m[2]}Z`);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** `name_restored_YYYYMMDDHHMMSS`, cut to fit PostgreSQL's 63-byte names. */
export function restoredName(name: string, nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const suffix = `_restored_${stamp}`;
  return `${name.slice(0, 63 - suffix.length)}${suffix}`;
}

/**
 * The name the table comes back under: its own when free; else --as (refused when taken: undrop
 * never overwrites); else name_restored_<time>.
 */
export function chooseRestoredName(t: TableName, as: string | null, taken: (name: string) => boolean, nowMs: number): string {
  if (as !== null) {
    if (taken(as)) throw new InvalidInputError(`--as ${as}: a table ${t.schema}.${as} exists already; undrop never overwrites a table`);
    return as;
  }
  if (!taken(t.name)) return t.name;
  const n = restoredName(t.name, nowMs);
  if (taken(n)) throw new InvalidInputError(`${t.schema}.${t.name} and ${t.schema}.${n} both exist; give --as NEW_NAME`);
  return n;
}
