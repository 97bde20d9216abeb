// Timeline history (pg_wal/<TLI>.history) and the question a standby asks after a failover:
// has it replayed past the point where the new primary's timeline forked off its own? Then it
// can never follow by streaming and must pg_rewind; knowing that at once (instead of after the
// rejoin timeout) shortens the time writes wait for a synchronous standby after a failover.
import { compareLsn } from '../domain/lsn.js';
import type { LsnText, TimelineSwitch } from '../domain/types.js';

/** How many of the newest history entries a primary publishes (enough for the usual case). */
export const PUBLISHED_HISTORY_ENTRIES = 5;

const LSN_RE = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;

/**
 * Parse a timeline history file: one line per ancestor timeline, "parentTLI<TAB>switchpoint
 * <TAB>reason", oldest first; blank lines and # comments are allowed. Malformed lines are skipped.
 */
export function parseTimelineHistory(text: string): TimelineSwitch[] {
  const out: TimelineSwitch[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [tliText, lsn] = line.split(/\s+/);
    const tli = Number(tliText);
    if (!Number.isInteger(tli) || tli < 1 || lsn === undefined || !LSN_RE.test(lsn)) continue;
    out.push({ tli, switchLsn: lsn.toUpperCase() as LsnText });
  }
  return out;
}

export interface DivergenceInput {
  /** The primary's current timeline and the newest entries of its history (from its status). */
  primaryTimeline: number | null;
  primaryHistory: TimelineSwitch[] | null | undefined;
  /** The timeline this standby last streamed on (agent memory; null after an agent restart). */
  streamedTli: number | null;
  /** The standby's own timeline as observed now (receiver's, else its last restartpoint's). */
  localTimeline: number | null;
  replayLsn: LsnText | null;
}

/**
 * True only when it is certain: the standby last streamed on an ancestor T of the primary's
 * timeline, has not moved past T since, and has replayed beyond where T ends in the primary's
 * history. Anything unknown (no history, an agent restart, a timeline not in the published
 * entries) is false, and the rejoin timeout decides as before.
 */
export function divergedFromPrimary(i: DivergenceInput): boolean {
  if (i.primaryTimeline === null || !i.primaryHistory || i.streamedTli === null || i.replayLsn === null) return false;
  if (i.streamedTli >= i.primaryTimeline) return false;
  if (i.localTimeline !== null && i.localTimeline > i.streamedTli) return false;
  const end = i.primaryHistory.find((e) => e.tli === i.streamedTli);
  if (!end) return false;
  return compareLsn(i.replayLsn, end.switchLsn) > 0;
}
