// Keeping the synchronous set healthy while the primary runs (pure).
//
// Protocol (docs/ha-protocol.md): syncConfirmed is the set of members proven to hold every
// acknowledged commit, the only promotable ones.
//   1. Request: view.syncStandbys := D, syncConfirmed := old syncConfirmed ∩ D (never grows here).
//   2. Applied: the primary reports synchronous_standby_names == D  -> appliedAt.
//   3. Barrier: syncConfirmDelayMs after apply, record the primary's flush LSN.
//   4. Proof:   every member of D has flushed past the barrier -> syncConfirmed := D.
import { lsnGte } from '../domain/lsn.js';
import type { ClusterView, MemberName } from '../domain/types.js';
import {
  byLsnDesc,
  type Ctx,
  flushOnPrimary,
  isFresh,
  isHealthyStandby,
  isSettled,
  isStreamingStandby,
  list,
  member,
  sameSet,
} from './member-health.js';

export interface SyncStep {
  view: ClusterView;
  changed: boolean;
  reason: string | null;
}

/**
 * A listed synchronous standby that has been gone long enough to replace: its status expired
 * (agent and lease gone) or the primary has not listed it as streaming for syncLossMs. A merely
 * slow agent (late heartbeats under load) whose postgres still streams is NOT lost: replacing it
 * would shrink the confirmed set for nothing and leave no promotable standby if the primary
 * died during the change. The primary's walsender notices a dead link within wal_sender_timeout.
 */
export function isSyncLost(ctx: Ctx, name: MemberName): boolean {
  const m = member(ctx, name);
  if (!isSettled(ctx)) return false;
  if (m === undefined) return true;
  const since = m.notStreamingSince;
  if (since === null || ctx.now - since < ctx.spec.timing.syncLossMs) return false;
  // Right after a new primary, a live standby is still re-pointing (or rewinding): give it time.
  return ctx.now - ctx.view.primarySince >= ctx.spec.timing.repointGraceMs;
}

/**
 * The synchronous set the primary should use now. `prefer` members go first (a switchover
 * target). Pure choice; the caller turns a difference into a change request.
 */
export function chooseSyncSet(ctx: Ctx, prefer: MemberName[] = []): { set: MemberName[]; why: string } {
  const { spec, view } = ctx;
  const k = spec.syncStandbys;
  const others = Object.values(ctx.observed.members).filter((m) => m.status.name !== view.primary);
  const streaming = others.filter((m) => isStreamingStandby(ctx, m)).sort(byLsnDesc);
  const streamingNames = streaming.map((m) => m.status.name);

  const keep = view.syncStandbys.filter((n) => !isSyncLost(ctx, n) && n !== view.primary);
  const lost = view.syncStandbys.filter((n) => isSyncLost(ctx, n) && n !== view.primary);
  const set: MemberName[] = [];
  for (const n of prefer) if (streamingNames.includes(n) && !set.includes(n)) set.push(n);
  for (const n of keep) if (set.length < k && !set.includes(n)) set.push(n);
  for (const n of streamingNames) if (set.length < k && !set.includes(n)) set.push(n);
  if (set.length >= k) {
    return { set, why: lost.length ? `replacing lost synchronous standby ${list(lost)}` : 'synchronous set' };
  }
  if (spec.syncMode === 'strict') {
    // Strict: keep listing members (lost ones first) so the primary waits instead of acknowledging
    // commits no standby holds. Writes block until one of them streams again.
    const known = [...lost, ...Object.keys(ctx.observed.members), ...view.syncStandbys];
    for (const n of known) if (set.length < k && n !== view.primary && !set.includes(n)) set.push(n);
    return { set, why: `strict mode: not enough healthy standbys (${list(streamingNames)} streaming); writes wait for ${list(set)}` };
  }
  return {
    set,
    why: `allow-unreplicated mode: only ${list(streamingNames)} streaming; primary continues with ${set.length ? list(set) : 'no synchronous standby'}`,
  };
}

/** Start a change of the synchronous set to `target`. */
export function requestSyncChange(ctx: Ctx, view: ClusterView, target: MemberName[]): ClusterView {
  const confirmed = view.syncConfirmed.filter((n) => target.includes(n));
  const done = target.every((n) => confirmed.includes(n));
  return {
    ...view,
    syncStandbys: target,
    syncConfirmed: confirmed,
    syncChange: done ? null : { target, requestedAt: ctx.now, appliedAt: null, barrierLsn: null },
    unreplicated: target.length === 0,
  };
}

/** Advance an in-flight change of the synchronous set by one step, if its condition holds. */
export function advanceSyncChange(ctx: Ctx, view: ClusterView): SyncStep {
  const c = view.syncChange;
  const p = member(ctx, view.primary);
  if (c === null || !isFresh(ctx, p) || !p.status.healthy || p.status.inRecovery !== false) {
    return { view, changed: false, reason: null };
  }
  if (c.appliedAt === null) {
    if (p.status.appliedSync !== null && sameSet(p.status.appliedSync, c.target)) {
      return {
        view: { ...view, syncChange: { ...c, appliedAt: ctx.now } },
        changed: true,
        reason: `primary ${view.primary} applied synchronous set [${list(c.target)}]`,
      };
    }
    return { view, changed: false, reason: `waiting for ${view.primary} to apply synchronous set [${list(c.target)}]` };
  }
  if (c.barrierLsn === null) {
    if (ctx.now - c.appliedAt >= ctx.spec.timing.syncConfirmDelayMs && p.status.flushLsn !== null) {
      return {
        view: { ...view, syncChange: { ...c, barrierLsn: p.status.flushLsn } },
        changed: true,
        reason: `barrier for synchronous set [${list(c.target)}] at ${p.status.flushLsn}`,
      };
    }
    return { view, changed: false, reason: 'waiting out the synchronous-set apply delay' };
  }
  const behind = c.target.filter((n) => !lsnGte(flushOnPrimary(ctx, n), c.barrierLsn));
  if (behind.length === 0) {
    return {
      view: { ...view, syncConfirmed: [...c.target], syncChange: null, unreplicated: c.target.length === 0 },
      changed: true,
      reason: `synchronous set [${list(c.target)}] confirmed: flushed past ${c.barrierLsn}`,
    };
  }
  return { view, changed: false, reason: `waiting for ${list(behind)} to flush past ${c.barrierLsn}` };
}

/** One pass of synchronous-set maintenance for a healthy primary. */
export function decideSync(ctx: Ctx, view: ClusterView, prefer: MemberName[] = []): SyncStep {
  const { set, why } = chooseSyncSet({ ...ctx, view }, prefer);
  if (!sameSet(set, view.syncStandbys) || set.length !== view.syncStandbys.length) {
    const next = requestSyncChange(ctx, view, set);
    return { view: next, changed: true, reason: `${why}: synchronous set [${list(view.syncStandbys)}] -> [${list(set)}]` };
  }
  if (view.syncChange === null && !sameSet(view.syncConfirmed, view.syncStandbys)) {
    // Confirmed set drifted (e.g. after a failover); re-run the proof for the listed set.
    return { view: requestSyncChange(ctx, { ...view, syncConfirmed: view.syncConfirmed }, set), changed: true, reason: `re-confirming synchronous set [${list(set)}]` };
  }
  return advanceSyncChange({ ...ctx, view }, view);
}

/** Standbys a new primary could use, best first (they need not stream from it yet). */
export function syncCandidatesAfterPromotion(ctx: Ctx, newPrimary: MemberName): MemberName[] {
  return Object.values(ctx.observed.members)
    .filter((m) => m.status.name !== newPrimary && m.status.name !== ctx.view.primary && isHealthyStandby(ctx, m))
    .sort(byLsnDesc)
    .map((m) => m.status.name);
}
