// `ballast backup run|list`: thin adapters over src/backup/operations.ts for a local deployment.
import { join } from 'node:path';
import { InvalidInputError, toError } from '../domain/errors.js';
import { layoutOf } from '../local/layout.js';
import { loadSecrets } from '../local/prepare.js';
import { localBackupSite } from '../local/backup-site.js';
import type { DeploymentState } from '../local/state.js';
import { backupJson, listingOf, readStanzaInfo, type BackupType } from '../backup/operations.js';
import { LAST_VERIFY_FILE, lastVerifyOf, readVerifyRecord } from '../backup/verify.js';
import { takeLocalBackup } from '../local/backup-run.js';
import { describeCluster, renderTable } from './describe.js';
import { EXIT_OK, createProgress, printJson, type Io } from './io.js';
import { resolveTarget, withStore, type TargetOptions } from './target.js';
import { parseDir, parseIntArg, parseName } from './args.js';
import { parseRestoreTarget, type RestoreTarget } from '../backup/restore-target.js';
import { restoreLocal } from '../local/restore.js';
import { launchDetached, printUp } from './local-commands.js';

const TYPES: BackupType[] = ['full', 'diff', 'incr'];

export function parseBackupType(v: string | undefined): BackupType {
  if (v === undefined) return 'incr';
  if (!(TYPES as string[]).includes(v)) throw new InvalidInputError(`--type must be full, diff or incr (got ${JSON.stringify(v)})`);
  return v as BackupType;
}

/** Backups work on local deployments (--dir) for now. */
export function localTarget(o: TargetOptions): { state: DeploymentState; endpoints: string[]; cluster: string } {
  if (o.etcd !== undefined) throw new InvalidInputError('backup commands need --dir DIR (a local deployment); --etcd is not supported for them yet');
  const t = resolveTarget(o);
  if (!t.state) throw new InvalidInputError('--dir DIR is required');
  return { state: t.state, endpoints: t.endpoints, cluster: t.cluster };
}

export async function backupRunCommand(io: Io, o: TargetOptions & { type?: string; json?: boolean }): Promise<number> {
  const type = parseBackupType(o.type);
  const t = localTarget(o);
  const progress = createProgress(io);
  const r = await withStore(t.endpoints, (store) => takeLocalBackup(store, t.state, type, progress));
  if (o.json) printJson(io, backupJson(r.backup));
  else io.out(`backup ${r.backup.id} (${r.backup.type}) done in ${r.seconds.toFixed(1)} s from ${r.backup.member ?? '?'}: ${r.backup.sizeBytes} bytes, LSN ${r.backup.startLsn}..${r.backup.stopLsn}\n`);
  return EXIT_OK;
}

export async function backupListCommand(io: Io, o: TargetOptions & { json?: boolean }): Promise<number> {
  const t = localTarget(o);
  const snap = await withStore(t.endpoints, (s) => s.readCluster(t.cluster)).catch(() => null);
  const site = localBackupSite(t.state, loadSecrets(layoutOf(t.state.dir)), snap?.spec?.backups?.retention);
  const info = await readStanzaInfo(await site.pgbackrest(t.state.members.map((m) => m.name)));
  const archive = snap ? describeCluster(snap, t.state.members, Date.now()).archive : null;
  const verified = await readVerifyRecord(join(layoutOf(t.state.dir).backupDir, LAST_VERIFY_FILE)).catch((e: unknown) => toError(e));
  const listing = listingOf(info, archive, verified instanceof Error ? null : verified && lastVerifyOf(verified));
  if (o.json) {
    printJson(io, listing);
    return EXIT_OK;
  }
  const rows = listing.backups.map((b) => [String(b.id), String(b.type), String(b.member ?? '-'), String(b.startedAt), String(b.stoppedAt), `${b.startLsn}..${b.stopLsn}`, String(b.sizeBytes), String(b.repoSizeBytes)]);
  io.out(`${rows.length ? renderTable(['ID', 'TYPE', 'MEMBER', 'STARTED', 'STOPPED', 'LSN', 'SIZE', 'REPO_SIZE'], rows) : 'no backups yet'}\n`);
  io.out(`restorable from ${listing.restorableFrom ?? '-'} to ${listing.restorableTo ?? '-'}\n`);
  const a = listing.archive;
  io.out(`WAL archive: last ${a.lastArchived ?? 'none'}, lag ${a.lagBytes ?? '-'} bytes / ${a.lagSeconds ?? '-'} s${a.failing ? `, FAILING on ${a.failingMembers.join(', ')}` : ''}\n`);
  const v = listing.lastVerify;
  io.out(`last verify: ${verified instanceof Error ? `unreadable (${verified.message})` : v ? `${v.verifiedAt} ${v.summary}` : 'never (ballast backup verify)'}\n`);
  return EXIT_OK;
}

export interface RestoreFlags {
  from?: string;
  into?: string;
  time?: string;
  lsn?: string;
  xid?: string;
  latest?: boolean;
  members?: string;
  cluster?: string;
  json?: boolean;
}

/** Pure checks of `restore` flags (no I/O). */
export function parseRestoreFlags(o: RestoreFlags): { from: string; into: string; target: RestoreTarget; members?: number; cluster?: string } {
  if (o.from === undefined) throw new InvalidInputError('--from DIR (the source deployment) is required');
  if (o.into === undefined) throw new InvalidInputError('--into DIR (a new, empty directory for the restored cluster) is required');
  const from = parseDir(o.from, '--from');
  const into = parseDir(o.into, '--into');
  const target = parseRestoreTarget({ time: o.time, lsn: o.lsn, xid: o.xid, latest: o.latest });
  return {
    from,
    into,
    target,
    ...(o.members === undefined ? {} : { members: parseIntArg('--members', o.members, 1, 9) }),
    ...(o.cluster === undefined ? {} : { cluster: parseName('--cluster', o.cluster) }),
  };
}

export async function restoreCommand(io: Io, o: RestoreFlags): Promise<number> {
  const a = parseRestoreFlags(o);
  const progress = createProgress(io);
  const t0 = Date.now();
  const state = await restoreLocal({ fromDir: a.from, intoDir: a.into, target: a.target, members: a.members, cluster: a.cluster, progress });
  progress(`restore: starting the restored cluster ${state.cluster} in ${state.dir}`);
  await launchDetached(state, progress);
  progress(`restore: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  printUp(io, state, o.json === true, true);
  return EXIT_OK;
}
