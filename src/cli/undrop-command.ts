// `ballast undrop`: a thin adapter over src/local/undrop.ts.
import { InvalidInputError } from '../domain/errors.js';
import { parseIsoTime } from '../backup/restore-target.js';
import { parseIdentifier, parseTableName, type TableName } from '../backup/undrop-plan.js';
import { undropLocal, type UndropOptions } from '../local/undrop.js';
import { EXIT_OK, createProgress, printJson, type Io } from './io.js';
import { localTarget } from './backup-commands.js';
import type { TargetOptions } from './target.js';

export interface UndropFlags extends TargetOptions {
  table?: string;
  db?: string;
  before?: string;
  beforeXid?: string;
  as?: string;
  json?: boolean;
}

/** Pure checks of the flags (no I/O). */
export function parseUndropFlags(o: UndropFlags): { table: TableName; database: string; before: UndropOptions['before']; as: string | null } {
  if (o.table === undefined) throw new InvalidInputError('--table SCHEMA.NAME is required');
  const table = parseTableName('--table', o.table);
  if (o.before !== undefined && o.beforeXid !== undefined) throw new InvalidInputError('give --before TIME or --before-xid XID, not both');
  let before: UndropOptions['before'] = null;
  if (o.before !== undefined) before = { kind: 'time', ms: parseIsoTime('--before', o.before) };
  if (o.beforeXid !== undefined) {
    if (!/^[1-9][0-9]{0,9}$/.test(o.beforeXid) || Number(o.beforeXid) > 4294967295) throw new InvalidInputError(`--before-xid must be a transaction id, a whole number from 1 to 4294967295 (got ${JSON.stringify(o.beforeXid)})`);
    before = { kind: 'xid', xid: o.beforeXid };
  }
  if (before?.kind === 'time' && before.ms > Date.now()) throw new InvalidInputError(`--before ${o.before} is in the future`);
  const as = o.as === undefined ? null : parseIdentifier('--as', o.as);
  const database = o.db === undefined ? 'app' : parseIdentifier('--db', o.db);
  return { table, database, before, as };
}

export async function undropCommand(io: Io, o: UndropFlags): Promise<number> {
  const f = parseUndropFlags(o);
  const t = localTarget(o);
  const progress = createProgress(io);
  const r = await undropLocal({ state: t.state, ...f, progress });
  if (o.json) printJson(io, r);
  else {
    io.out(`${r.table} is back as ${r.restoredAs}: ${r.rows} rows, in ${r.seconds.toFixed(1)} s (from backup ${r.backup}${r.droppedByXid ? `; dropped by transaction ${r.droppedByXid} at ${r.droppedAt ?? '?'}` : ''})\n`);
    if (r.droppedConstraints.length) io.out(`left out foreign keys that point at tables missing on the live cluster: ${r.droppedConstraints.join(', ')}\n`);
  }
  return EXIT_OK;
}
