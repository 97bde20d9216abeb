// Is the primary gone, and who may replace it (pure)?
//
// A primary is failed only when BOTH its own side and its peers say so, so a slow or
// overloaded primary is not mistaken for a dead one:
//   - its agent is silent (no status change for heartbeatTimeoutMs), or its agent says postgres
//     has been down for primaryRestartTimeoutMs (in-place restarts failed), or it fenced itself;
//   - AND every healthy standby that runs the current view reports it cannot reach the
//     primary's postgres, for at least primaryUnreachableMs.
// Only members in view.syncConfirmed may be promoted: they hold every acknowledged commit.
import { compareLsn } from '../domain/lsn.js';
import type { ClusterView, MemberName, PostgresState, TimingSpec } from '../domain/types.js';
import { syncCandidatesAfterPromotion } from './decide-sync.js';
import {
  byLsnDesc,
  type Ctx,
  describeLsn,
  isFresh,
  isHealthyStandby,
  isSettled,
  list,
  member,
  standbyLsn,
} from './member-health.js';

export interface PrimaryVerdict {
  failed: boolean;
  /** Why failed, or why not (yet). */
  why: string;
}

export function judgePrimary(ctx: Ctx): PrimaryVerdict {
  const { view, spec, now } = ctx;
  const t = spec.timing;
  const name = view.primary;
  if (name === null) return { failed: false, why: 'no primary yet' };
  const p = member(ctx, name);

  let ownSide: string | null = null;
  if (!isFresh(ctx, p)) {
    const last = ctx.observed.members[name]?.lastChangeAt;
    ownSide = last !== undefined ? `agent silent for ${now - last} ms` : 'agent gone (status expired)';
  } else if (p.status.fenced) {
    ownSide = 'it fenced itself (could not confirm its role)';
  } else if (!p.status.healthy && p.status.downForMs !== null && p.status.downForMs >= restartBound(p.status.postgres, t)) {
    ownSide = `postgres down for ${p.status.downForMs} ms despite restarts (${p.status.restartAttempts} attempts${p.status.postgres === 'starting' || p.status.postgres === 'running' ? ', still in crash recovery' : ''})`;
  }
  if (ownSide === null) {
    const healthy = isFresh(ctx, p) && p.status.healthy && p.status.inRecovery === false;
    return { failed: false, why: healthy ? `primary ${name} healthy` : `primary ${name} recovering (${p?.status.activity ?? 'unknown'})` };
  }
  if (!isSettled(ctx)) return { failed: false, why: `primary ${name}: ${ownSide}; still settling, not judging yet` };

  const witnesses = Object.values(ctx.observed.members).filter(
    (m) => m.status.name !== name && isHealthyStandby(ctx, m) && m.status.viewGeneration === view.generation,
  );
  if (witnesses.length === 0) {
    return { failed: false, why: `primary ${name}: ${ownSide}; no healthy standby can confirm it is unreachable` };
  }
  const reaching = witnesses.filter(
    (m) => m.status.primaryReachable !== false || m.status.primaryUnreachableForMs < t.primaryUnreachableMs,
  );
  if (reaching.length > 0) {
    return { failed: false, why: `primary ${name}: ${ownSide}; but ${list(reaching.map((m) => m.status.name))} still reach its postgres` };
  }
  const ms = Math.min(...witnesses.map((m) => m.status.primaryUnreachableForMs));
  return {
    failed: true,
    why: `primary ${name} failed: ${ownSide}; ${list(witnesses.map((m) => m.status.name))} cannot reach its postgres for ${ms} ms`,
  };
}

export interface Candidate {
  name: MemberName | null;
  why: string;
}

/** The promotable standby with the highest LSN, or why there is none. */
export function chooseFailoverCandidate(ctx: Ctx): Candidate {
  const { view } = ctx;
  if (view.syncConfirmed.length === 0) {
    const why = view.unreplicated
      ? 'the primary ran without a synchronous standby (allow-unreplicated), so no standby is certain to hold every acknowledged commit'
      : 'no standby is confirmed synchronous yet';
    return { name: null, why };
  }
  const ready = view.syncConfirmed
    .map((n) => member(ctx, n))
    .filter((m): m is NonNullable<typeof m> => isHealthyStandby(ctx, m))
    .sort(byLsnDesc);
  if (ready.length === 0) {
    return { name: null, why: `confirmed synchronous standby ${list(view.syncConfirmed)} is not healthy` };
  }
  const best = ready[0]!;
  return { name: best.status.name, why: `${best.status.name} is a confirmed synchronous standby at ${describeLsn(best)}` };
}

/** The view after promoting `target` (failover, forced failover or switchover). */
export function promoteView(ctx: Ctx, target: MemberName, reason: string): ClusterView {
  const { view, spec, now } = ctx;
  const candidates = syncCandidatesAfterPromotion(ctx, target);
  const k = spec.syncStandbys;
  const set = candidates.slice(0, k);
  if (set.length < k && spec.syncMode === 'strict') {
    // Strict: list other members (the old primary too) so the new primary waits rather than
    // acknowledging commits nobody else holds.
    const rest = Object.keys(ctx.observed.members)
      .concat(view.primary ? [view.primary] : [])
      .filter((n) => n !== target && !set.includes(n));
    for (const n of rest) if (set.length < k && !set.includes(n)) set.push(n);
  }
  return {
    ...view,
    generation: view.generation + 1,
    primary: target,
    primarySince: now,
    timeline: 0,
    syncStandbys: set,
    syncConfirmed: [],
    syncChange: set.length ? { target: set, requestedAt: now, appliedAt: null, barrierLsn: null } : null,
    unreplicated: set.length === 0,
    switchover: null,
    reason,
    updatedAt: now,
  };
}

/** Highest-LSN healthy standby overall (for forced failover hints). */
export function bestStandby(ctx: Ctx): MemberName | null {
  const all = Object.values(ctx.observed.members)
    .filter((m) => m.status.name !== ctx.view.primary && isHealthyStandby(ctx, m))
    .sort((a, b) => compareLsn(standbyLsn(b), standbyLsn(a)));
  return all[0]?.status.name ?? null;
}

/** How long a primary's agent gets to bring its postgres back in place before a failover. */
export function restartBound(state: PostgresState, t: TimingSpec): number {
  return state === 'starting' || state === 'running' ? Math.max(t.primaryRecoveryTimeoutMs, t.primaryRestartTimeoutMs) : t.primaryRestartTimeoutMs;
}
