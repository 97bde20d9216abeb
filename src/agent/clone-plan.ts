// How a standby is cloned (pure): restore the newest backup with `pgbackrest restore --delta`
// and let the archive and streaming catch it up, or copy the primary with pg_basebackup.
// The agent's executor gathers the facts (its memory, the repository's answer to `pgbackrest
// info`, the primary's system identifier), asks these functions, and runs the chosen path;
// any failure of the restore path falls back to pg_basebackup.
//   planClone(facts)            -> try a restore, or pg_basebackup (and why not a backup)
//   chooseRestoreBackup(answer) -> the backup to restore, or why none fits
import { newestBackup, type BackupRecord, type StanzaInfo } from '../backup/backup-info.js';

/** After a failed restore, clones use pg_basebackup for this long before trying a backup again. */
export const RESTORE_RETRY_AFTER_MS = 10 * 60_000;

export interface CloneFacts {
  /** The member archives (its config has a backup section): there is a repository to restore from. */
  archiving: boolean;
  /** Agent clock. */
  now: number;
  /** Agent clock of the newest failed restore (null: none). */
  restoreFailedAt: number | null;
  /** Agent clock when the newest clone by restore completed (null: none). */
  restoredAt: number | null;
  /** Agent clock when the walreceiver was last seen streaming from the primary (0: never). */
  streamingAt: number;
}

/** because: why not from a backup, for the event and the rejoin record (null: archiving is off, nothing to say). */
export type ClonePlan = { method: 'restore' } | { method: 'basebackup'; because: string | null };

export function planClone(f: CloneFacts): ClonePlan {
  if (!f.archiving) return { method: 'basebackup', because: null };
  if (f.restoredAt !== null && f.streamingAt < f.restoredAt) {
    // The backup and the archive did not bring it to where the primary's WAL starts (a gap in
    // the archive, say): another restore would end the same way.
    return { method: 'basebackup', because: 'the previous clone from a backup never caught up to streaming from the primary' };
  }
  if (f.restoreFailedAt !== null && f.now - f.restoreFailedAt < RESTORE_RETRY_AFTER_MS) {
    return { method: 'basebackup', because: `a restore from a backup failed ${Math.round((f.now - f.restoreFailedAt) / 1000)} s ago` };
  }
  return { method: 'restore' };
}

/** What `pgbackrest info` said: the stanza, or the error (failure, time-out) in a few words. */
export type RepoAnswer = { info: StanzaInfo } | { error: string };

export type BackupChoice = { backup: BackupRecord } | { because: string };

/**
 * The newest good backup of this cluster, or why there is none to restore: the repository did
 * not answer, holds no backup yet (`ballast up` clones its standbys before the first backup), or
 * belongs to another cluster (its system identifier is not the primary's).
 */
export function chooseRestoreBackup(answer: RepoAnswer, primarySystemId: string | null): BackupChoice {
  if ('error' in answer) return { because: `the backup repository did not answer (${answer.error})` };
  const info = answer.info;
  const backup = newestBackup(info);
  if (backup === null) return { because: `the repository holds no backup yet (${info.status.message})` };
  if (primarySystemId === null) return { because: 'the primary\'s system identifier is not known, so the backup cannot be matched to this cluster' };
  if (info.systemId !== primarySystemId) {
    return { because: `the repository's stanza belongs to another database system (system identifier ${info.systemId ?? 'unknown'}, the primary's is ${primarySystemId})` };
  }
  return { backup };
}

/**
 * `pgbackrest restore` arguments for a clone. --type=standby: pgBackRest writes standby.signal, so
 * the data directory can never start as a primary, even if the agent dies before it puts
 * Ballast's files back; the restore_command it adds to postgresql.auto.conf is removed again
 * (Ballast's own, in postgresql.conf, is the same command through the member's file). No
 * --archive-mode=off: the member is a standby of this very cluster and archives like any other
 * (only a primary pushes). No recovery target: the standby follows the newest timeline.
 */
export function restoreCloneArgs(backupId: string): string[] {
  return ['restore', '--delta', '--type=standby', `--set=${backupId}`, '--log-level-console=info'];
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Event text: cloned by restoring a backup. */
export function restoredMessage(me: string, backupId: string, tookMs: number, from: string, why: string): string {
  return `${me}: cloned from the backup ${backupId} (pgbackrest restore --delta, ${seconds(tookMs)}), then catching up from the archive and ${from} (${why}) (code clone-restore)`;
}

/** Event text: the restore failed; pg_basebackup follows. */
export function restoreFailedMessage(me: string, failure: string, from: string): string {
  return `${me}: ${failure}; falling back to pg_basebackup from ${from} (code clone-restore-failed)`;
}

/** Why a clone used pg_basebackup, with the reason a backup was not used when there is one. */
export function basebackupReason(why: string, notFromBackup: string | null): string {
  return notFromBackup === null ? why : `${why}; not from a backup: ${notFromBackup}`;
}

/** Event text: cloned with pg_basebackup. */
export function basebackupMessage(me: string, from: string, tookMs: number, reason: string): string {
  return `${me}: cloned from ${from} with pg_basebackup (${seconds(tookMs)}; ${reason}) (code clone-basebackup)`;
}
