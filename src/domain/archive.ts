// WAL archive status of one member, from pg_stat_archiver (pure). Shared by the agent (which
// publishes it), `ballast status` and `ballast backup list`.
import { formatLsn, parseLsn } from './lsn.js';

type LsnText = string;

/** What pg_stat_archiver and the server say (times in ms since the epoch). */
export interface ArchiverFacts {
  mode: string;
  archivedCount: number;
  lastArchivedWal: string | null;
  lastArchivedAt: number | null;
  failedCount: number;
  lastFailedWal: string | null;
  lastFailedAt: number | null;
  /** Oldest WAL segment in pg_wal/archive_status still waiting (.ready), and since when (absent: unknown). */
  oldestReady?: string | null;
  oldestReadyAt?: number | null;
  readyCount?: number;
}

/** Published in MemberStatus.archive. */
export interface ArchiveStatus {
  /** archive_mode in effect (always | on | off). */
  mode: string;
  lastArchived: string | null;
  lastArchivedAt: number | null;
  lastFailed: string | null;
  lastFailedAt: number | null;
  /** The newest attempt failed (no success since the last failure). */
  failing: boolean;
  /** Primary: WAL bytes not in the archive yet (current segment included; null when unknown). */
  lagBytes: number | null;
  /** Primary: how long the oldest complete segment has waited for the archive (0 when none waits). */
  lagSeconds: number | null;
  /** Complete segments waiting for the archive. */
  waitingSegments: number | null;
  /** Primary: did the newest probe reach the repository (null: not probed)? */
  repoReachable?: boolean | null;
  repoError?: string | null;
}

export const WAL_SEGMENT_BYTES = 16 * 1024 * 1024;
const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\..+)?$/;

/**
 * The LSN up to which a name from pg_stat_archiver proves WAL archived: the end of a complete
 * segment, the start of its segment for a .partial or .backup file; null for a .history file.
 */
export function archivedUpTo(walName: string, segmentBytes = WAL_SEGMENT_BYTES): LsnText | null {
  const m = SEGMENT.exec(walName);
  if (!m) return null;
  const perLog = BigInt(0x100000000) / BigInt(segmentBytes);
  const segNo = BigInt(`0x${m[2]}`) * perLog + BigInt(`0x${m[3]}`);
  const complete = m[4] === undefined;
  return formatLsn((segNo + (complete ? 1n : 0n)) * BigInt(segmentBytes));
}

/** Start LSN of the segment that holds `lsn`. */
export function segmentStart(lsn: LsnText, segmentBytes = WAL_SEGMENT_BYTES): LsnText {
  const v = parseLsn(lsn);
  return formatLsn(v - (v % BigInt(segmentBytes)));
}

/** The newest archive attempt failed (no success since the last failure). */
export function isArchiveFailing(f: Pick<ArchiverFacts, 'lastArchivedAt' | 'lastFailedAt'>): boolean {
  return f.lastFailedAt !== null && (f.lastArchivedAt === null || f.lastFailedAt > f.lastArchivedAt);
}

/**
 * Archive status of a member; `currentLsn` is the primary's pg_current_wal_lsn (null on standbys).
 * Everything before the oldest segment still marked .ready is archived (PostgreSQL archives in
 * order); with none waiting, everything before the current segment is.
 */
export function archiveStatusOf(f: ArchiverFacts, currentLsn: LsnText | null, nowMs: number): ArchiveStatus {
  const failing = isArchiveFailing(f);
  let lagBytes: number | null = null;
  let lagSeconds: number | null = null;
  if (currentLsn !== null && f.mode !== 'off' && f.oldestReady !== undefined) {
    const oldest = f.oldestReady === null ? null : archivedUpTo(f.oldestReady.replace(/\.partial$/, '') + '.partial');
    const upTo = oldest ?? segmentStart(currentLsn);
    const d = parseLsn(currentLsn) - parseLsn(upTo);
    lagBytes = d > 0n ? Number(d) : 0;
    lagSeconds = f.oldestReadyAt == null ? 0 : Math.max(0, Math.round((nowMs - f.oldestReadyAt) / 1000));
  }
  return {
    mode: f.mode,
    lastArchived: f.lastArchivedWal,
    lastArchivedAt: f.lastArchivedAt,
    lastFailed: f.lastFailedWal,
    lastFailedAt: f.lastFailedAt,
    failing,
    lagBytes,
    lagSeconds,
    waitingSegments: f.readyCount ?? null,
  };
}

/** The cluster's WAL archive as the primary sees it (status, backup list). */
export interface ArchiveDescription {
  mode: string | null;
  lagBytes: number | null;
  lagSeconds: number | null;
  lastArchived: string | null;
  lastArchivedAt: string | null;
  failing: boolean;
  /** Members whose newest push to the archive failed (only the primary pushes). */
  failingMembers: string[];
  /** The primary's newest probe of the repository (null: not probed). */
  repoReachable: boolean | null;
  repoError: string | null;
}
