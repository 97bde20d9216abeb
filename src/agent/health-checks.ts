// Pure health verdicts behind the agent's HTTP endpoints (used by HAProxy and operators).
import type { ClusterView, MemberStatus } from '../domain/types.js';
import type { RoleConfirmation } from './fence.js';

export interface HealthFacts {
  status: MemberStatus;
  view: ClusterView | null;
  confirmation: RoleConfirmation;
}

export interface Verdict {
  ok: boolean;
  why: string;
}

export function checkHealth(f: HealthFacts): Verdict {
  return f.status.healthy ? { ok: true, why: 'postgres answers' } : { ok: false, why: `postgres ${f.status.postgres}` };
}

/** 200 only on the member the view names primary, not in recovery, with its role confirmed. */
export function checkPrimary(f: HealthFacts): Verdict {
  const s = f.status;
  if (f.view?.primary !== s.name) return { ok: false, why: `the view names ${f.view?.primary ?? 'nobody'} primary` };
  if (!s.healthy) return { ok: false, why: `postgres ${s.postgres}` };
  if (s.inRecovery !== false) return { ok: false, why: 'postgres is in recovery' };
  if (s.fenced) return { ok: false, why: 'fenced' };
  if (f.confirmation === 'none') return { ok: false, why: 'lease lost and no failsafe quorum' };
  if (f.view.switchover?.phase === 'stopping') return { ok: false, why: 'switchover in progress' };
  return { ok: true, why: `primary (confirmed by ${f.confirmation})` };
}

export interface ReplicaLimits {
  maxLagBytes: number | null;
  maxLagMs: number | null;
}

/** 200 on a healthy standby streaming from the view's primary within the lag limits. */
export function checkReplica(f: HealthFacts, limits: ReplicaLimits): Verdict {
  const s = f.status;
  if (!s.healthy) return { ok: false, why: `postgres ${s.postgres}` };
  if (s.inRecovery !== true) return { ok: false, why: 'not a standby' };
  if (f.view?.primary == null || s.streamingFrom !== f.view.primary) return { ok: false, why: 'not streaming from the primary' };
  if (limits.maxLagBytes !== null && (s.lagBytes === null || s.lagBytes > limits.maxLagBytes)) {
    return { ok: false, why: `lag ${s.lagBytes ?? 'unknown'} bytes > ${limits.maxLagBytes}` };
  }
  if (limits.maxLagMs !== null && (s.lagMs === null || s.lagMs > limits.maxLagMs)) {
    return { ok: false, why: `lag ${s.lagMs ?? 'unknown'} ms > ${limits.maxLagMs}` };
  }
  return { ok: true, why: `replica, lag ${s.lagBytes ?? '?'} bytes / ${s.lagMs ?? '?'} ms` };
}

/** 200 on a standby the view lists as synchronous and that streams from the primary. */
export function checkSync(f: HealthFacts): Verdict {
  const r = checkReplica(f, { maxLagBytes: null, maxLagMs: null });
  if (!r.ok) return r;
  if (!f.view?.syncStandbys.includes(f.status.name)) return { ok: false, why: 'not a synchronous standby' };
  const confirmed = f.view.syncConfirmed.includes(f.status.name);
  return { ok: true, why: confirmed ? 'synchronous standby (confirmed)' : 'synchronous standby (being confirmed)' };
}

/**
 * Failsafe question from a primary that lost etcd: "am I still the primary?" Yes only if our
 * newest view names it with the same generation, and we are not streaming from anyone else.
 */
export function answerFailsafe(f: HealthFacts, asker: string, generation: number): Verdict {
  if (f.view === null) return { ok: false, why: 'no view' };
  if (f.view.primary !== asker) return { ok: false, why: `the view (generation ${f.view.generation}) names ${f.view.primary ?? 'nobody'} primary` };
  if (f.view.generation > generation) return { ok: false, why: `newer view ${f.view.generation} exists` };
  if (f.status.streamingFrom !== null && f.status.streamingFrom !== asker) return { ok: false, why: `streaming from ${f.status.streamingFrom}` };
  return { ok: true, why: `agree: ${asker} is primary` };
}

export function parseLimit(v: unknown, what: string): number | null {
  if (v === undefined || v === '') return null;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${what} must be a non-negative number`);
  return n;
}
