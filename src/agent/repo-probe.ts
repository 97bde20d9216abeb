// Is the backup repository reachable from this member? The primary's agent lists the stanza's
// archive directory with pgBackRest every few seconds, so a repository that became unreachable
// shows in status and events within seconds, not only when the next WAL segment fails to push.
import type { AgentConfig, Secrets } from '../domain/config.js';
import { errorMessage } from '../domain/errors.js';
import type { PgBackRest } from '../backup/pgbackrest.js';
import { memberPgBackRest } from './pg-archive.js';

export const REPO_PROBE_INTERVAL_MS = 2000;
const REPO_PROBE_TIMEOUT_MS = 3000;

export interface RepoProbeResult {
  reachable: boolean;
  error: string | null;
  at: number;
}

export class RepoProbe {
  private readonly pgb: PgBackRest | null;
  last: RepoProbeResult | null = null;

  constructor(config: AgentConfig, secrets: Secrets) {
    this.pgb = memberPgBackRest(config, secrets);
  }

  get enabled(): boolean {
    return this.pgb !== null;
  }

  async probe(): Promise<RepoProbeResult | null> {
    if (!this.pgb) return null;
    try {
      await this.pgb.run(['repo-ls', `archive/${this.pgb.stanza}`], { timeoutMs: REPO_PROBE_TIMEOUT_MS });
      this.last = { reachable: true, error: null, at: Date.now() };
    } catch (e) {
      this.last = { reachable: false, error: errorMessage(e).split('\n').slice(0, 3).join(' '), at: Date.now() };
    }
    return this.last;
  }

  /** Forget the result (e.g. when this member is no longer the primary). */
  clear(): void {
    this.last = null;
  }
}
