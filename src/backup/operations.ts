// Backup operations (one layer for the CLI and, later, the API and the coordinator's schedule):
// choose the members a backup reads from, take a backup, list backups with the restorable
// window and the archive's state. Collaborators come in as arguments: a BackupSite (where the
// repository-side pgBackRest file is written and run) and a cluster snapshot from the store.
import { BallastError, CommandFailedError } from '../domain/errors.js';
import type { ArchiveDescription } from '../domain/archive.js';
import type { MemberName, MemberStatus } from '../domain/types.js';
import { newestBackup, parseStanzaInfo, restorableWindow, type BackupRecord, type StanzaInfo } from './backup-info.js';
import type { PgBackRest } from './pgbackrest.js';

import type { BackupType } from '../domain/types.js';
export type { BackupType };

/** Where pgBackRest runs on the repository side; pgbackrest(members) writes its file naming them (primary first). */
export interface BackupSite {
  stanza: string;
  pgbackrest(members: MemberName[]): Promise<PgBackRest>;
}

export interface BackupSource {
  primary: MemberName;
  /** The standby the files are copied from; null: from the primary (no healthy standby). */
  standby: MemberName | null;
  reason: string;
}

/**
 * Pure: the primary (must be healthy) and the standby to copy from. Async standbys first (the
 * synchronous one acknowledges every commit: leave its disk to that), then the least lag.
 */
export function chooseBackupSource(members: MemberStatus[], primary: MemberName | null, syncStandbys: MemberName[]): BackupSource {
  const p = members.find((m) => m.name === primary);
  if (!primary || !p || !p.healthy || p.inRecovery !== false) {
    throw new CommandFailedError(`no healthy primary to back up (view primary: ${primary ?? 'none'}); see ballast status`);
  }
  const standbys = members
    .filter((m) => m.name !== primary && m.healthy && m.inRecovery === true && m.streamingFrom === primary)
    .sort((a, b) => {
      const sa = syncStandbys.includes(a.name) ? 1 : 0;
      const sb = syncStandbys.includes(b.name) ? 1 : 0;
      if (sa !== sb) return sa - sb;
      return (a.lagBytes ?? Number.MAX_SAFE_INTEGER) - (b.lagBytes ?? Number.MAX_SAFE_INTEGER) || a.name.localeCompare(b.name);
    });
  const s = standbys[0];
  if (!s) return { primary, standby: null, reason: `no healthy streaming standby: copying from the primary ${primary}` };
  const kind = syncStandbys.includes(s.name) ? 'synchronous' : 'asynchronous';
  return { primary, standby: s.name, reason: `copying from the ${kind} standby ${s.name} (lag ${s.lagBytes ?? '?'} bytes); ${primary} only starts and stops the backup` };
}

export async function readStanzaInfo(pgb: PgBackRest): Promise<StanzaInfo> {
  const r = await pgb.run(['info', '--output=json'], { timeoutMs: 60_000 });
  return parseStanzaInfo(r.stdout, pgb.stanza);
}

/** Create the stanza if it does not exist (idempotent; refuses a repository of another cluster). */
export async function ensureStanza(site: BackupSite, primary: MemberName): Promise<void> {
  const pgb = await site.pgbackrest([primary]);
  await pgb.run(['stanza-create'], { timeoutMs: 120_000 });
}

export interface RunBackupInput {
  site: BackupSite;
  members: MemberStatus[];
  primary: MemberName | null;
  syncStandbys: MemberName[];
  type: BackupType;
  progress: (line: string) => void;
}

export interface BackupResult {
  backup: BackupRecord;
  source: BackupSource;
  seconds: number;
}

export async function runBackup(i: RunBackupInput): Promise<BackupResult> {
  const source = chooseBackupSource(i.members, i.primary, i.syncStandbys);
  const pgb = await i.site.pgbackrest(source.standby ? [source.primary, source.standby] : [source.primary]);
  // No `info` before: pgBackRest's own lock refuses a second backup at once (error 050, explained
  // as "already running"), and the new backup's label comes from its own output.
  i.progress(`backup (${i.type}): ${source.reason}`);
  const t0 = Date.now();
  // Expire (retention) runs after the backup as usual, but beside the `info` that reads the new
  // backup's figures instead of before it.
  const args = ['backup', `--type=${i.type}`, `--annotation=ballast-member=${source.standby ?? source.primary}`, '--log-level-console=info', '--no-expire-auto'];
  if (!source.standby) args.push('--no-backup-standby');
  let label: string | null = null;
  await pgb.run(args, {
    timeoutMs: 24 * 3600_000,
    onLine: (line) => {
      const m = /P\d+\s+INFO: (.*)$/.exec(line);
      if (!m || /command (begin|end)/.test(m[1] as string)) return;
      label = /new backup label = (\S+)/.exec(m[1] as string)?.[1] ?? label;
      i.progress(`backup: ${m[1]}`);
    },
  });
  const [after] = await Promise.all([
    readStanzaInfo(pgb),
    pgb.run(['expire', '--log-level-console=info'], { timeoutMs: 3600_000 }).catch((e: unknown) => {
      i.progress(`backup: expire after the backup failed (retention not applied this time): ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }),
  ]);
  const backup = after.backups.find((b) => b.id === label) ?? null;
  if (!backup) throw new BallastError('INTERNAL', `pgbackrest backup succeeded but its backup ${label ?? '(no label in its output)'} is not listed by pgbackrest info`);
  return { backup, source, seconds: (Date.now() - t0) / 1000 };
}

/** `backup run --json` contract: {id, type, member, startLsn, stopLsn, startedAt, stoppedAt, sizeBytes}. */
export function backupJson(b: BackupRecord): Record<string, unknown> {
  return {
    id: b.id, type: b.type, member: b.member, startLsn: b.startLsn, stopLsn: b.stopLsn,
    startedAt: b.startedAt, stoppedAt: b.stoppedAt, sizeBytes: b.sizeBytes,
    repoSizeBytes: b.repoSizeBytes, prior: b.prior, error: b.error,
  };
}

export interface BackupListing {
  backups: Record<string, unknown>[];
  restorableFrom: string | null;
  restorableTo: string | null;
  archive: { lagBytes: number | null; lagSeconds: number | null; lastArchived: string | null; failing: boolean; failingMembers: MemberName[] };
  newest: string | null;
  stanza: string;
  systemId: string | null;
  /** The last `backup verify` (null: never verified); absent when the caller did not look. */
  lastVerify?: LastVerify | null;
}

/** The last `backup verify` result as `backup list` shows it (src/backup/verify.ts makes it). */
export interface LastVerify {
  verifiedAt: string;
  ok: boolean;
  backup: string | null;
  seconds: number;
  summary: string;
}


export function listingOf(info: StanzaInfo, archive: ArchiveDescription | null, lastVerify?: LastVerify | null): BackupListing {
  const lastArchivedMs = archive?.lastArchivedAt ? Date.parse(archive.lastArchivedAt) : null;
  const w = restorableWindow(info, lastArchivedMs);
  return {
    backups: info.backups.map(backupJson),
    restorableFrom: w.from,
    restorableTo: w.to,
    archive: {
      lagBytes: archive?.lagBytes ?? null,
      lagSeconds: archive?.lagSeconds ?? null,
      lastArchived: archive?.lastArchived ?? info.archiveMax,
      failing: archive?.failing ?? false,
      failingMembers: archive?.failingMembers ?? [],
    },
    newest: newestBackup(info)?.id ?? null,
    stanza: info.stanza,
    systemId: info.systemId,
    ...(lastVerify === undefined ? {} : { lastVerify }),
  };
}

/**
 * Make the cluster's backups ready: create the stanza (idempotent) and, when the repository has
 * no backup yet, take a first full one. Returns the backup taken, or null when one existed.
 */
export async function ensureFirstBackup(i: Omit<RunBackupInput, 'type'>): Promise<BackupResult | null> {
  if (!i.primary) throw new CommandFailedError('no primary yet: cannot set up backups');
  i.progress(`backups: creating the pgBackRest stanza '${i.site.stanza}' (if missing)`);
  await ensureStanza(i.site, i.primary);
  const info = await readStanzaInfo(await i.site.pgbackrest([i.primary]));
  if (info.backups.some((b) => !b.error)) return null;
  return runBackup({ ...i, type: 'full' });
}
