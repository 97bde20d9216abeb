// Time lag of a standby: the age of the oldest WAL it has not replayed yet, from samples of the
// primary's flush LSN (taken from the primary's published status) with the time they were seen.
import { compareLsn } from '../domain/lsn.js';
import type { LsnText } from '../domain/types.js';

const MAX_SAMPLES = 6000;

export class LagTracker {
  private samples: { lsn: LsnText; at: number }[] = [];

  /** Record the primary's flush LSN as seen at `now` (ignores repeats and regressions). */
  sample(lsn: LsnText | null, now: number): void {
    if (lsn === null) return;
    const last = this.samples[this.samples.length - 1];
    if (last && compareLsn(lsn, last.lsn) <= 0) {
      if (compareLsn(lsn, last.lsn) < 0) this.samples = [{ lsn, at: now }]; // new timeline / new primary
      return;
    }
    this.samples.push({ lsn, at: now });
    if (this.samples.length > MAX_SAMPLES) this.samples.splice(0, this.samples.length - MAX_SAMPLES);
  }

  /** ms since the primary first had WAL beyond `replayed`; 0 when caught up; null if unknown. */
  lagMs(replayed: LsnText | null, now: number): number | null {
    if (replayed === null || this.samples.length === 0) return null;
    const firstAhead = this.samples.find((s) => compareLsn(s.lsn, replayed) > 0);
    return firstAhead ? Math.max(0, now - firstAhead.at) : 0;
  }

  latest(): LsnText | null {
    return this.samples[this.samples.length - 1]?.lsn ?? null;
  }

  reset(): void {
    this.samples = [];
  }
}
