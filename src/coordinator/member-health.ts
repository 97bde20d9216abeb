// Pure predicates over observed members, shared by the decide* functions.
import { compareLsn } from '../domain/lsn.js';
import type {
  ClusterSpec,
  ClusterView,
  MemberName,
  Observed,
  ObservedMember,
} from '../domain/types.js';

export interface Ctx {
  spec: ClusterSpec;
  observed: Observed;
  view: ClusterView;
  now: number;
}

export function member(ctx: Ctx, name: MemberName | null): ObservedMember | undefined {
  return name === null ? undefined : ctx.observed.members[name];
}

/** Its agent published recently. */
export function isFresh(ctx: Ctx, m: ObservedMember | undefined): m is ObservedMember {
  return m !== undefined && ctx.now - m.lastChangeAt <= ctx.spec.timing.heartbeatTimeoutMs;
}

/** The coordinator has watched long enough to judge failures. */
export function isSettled(ctx: Ctx): boolean {
  return ctx.now - ctx.observed.observingSince >= ctx.spec.timing.settleMs;
}

/** A running, healthy standby (whoever it streams from). */
export function isHealthyStandby(ctx: Ctx, m: ObservedMember | undefined): m is ObservedMember {
  return isFresh(ctx, m) && m.status.healthy && m.status.inRecovery === true;
}

/** Why `m` is not a healthy standby right now (for reasons and events), or null if it is one. */
export function whyNotHealthyStandby(ctx: Ctx, m: ObservedMember | undefined): string | null {
  if (m === undefined) return 'its status expired (agent gone)';
  const silentMs = ctx.now - m.lastChangeAt;
  if (!isFresh(ctx, m)) return `its agent has published nothing new for ${silentMs} ms`;
  if (!m.status.healthy) return `postgres ${m.status.postgres}${m.status.lastError ? ` (${m.status.lastError.slice(0, 200)})` : ''}`;
  if (m.status.inRecovery !== true) return 'it is not in recovery';
  return null;
}

/** A healthy standby streaming from the view's primary, as the primary itself reports. */
export function isStreamingStandby(ctx: Ctx, m: ObservedMember | undefined): m is ObservedMember {
  return isHealthyStandby(ctx, m) && m.status.streamingFrom === ctx.view.primary && m.notStreamingSince === null;
}

/** Why `m` is not a standby streaming from the view's primary, or null if it is one. */
export function whyNotStreamingStandby(ctx: Ctx, m: ObservedMember | undefined): string | null {
  const unhealthy = whyNotHealthyStandby(ctx, m);
  if (unhealthy !== null || m === undefined) return unhealthy;
  if (m.status.streamingFrom !== ctx.view.primary) return `it streams from ${m.status.streamingFrom ?? 'nobody'}`;
  if (m.notStreamingSince !== null) return `${ctx.view.primary} has not listed it as streaming for ${ctx.now - m.notStreamingSince} ms`;
  return null;
}

/**
 * A fresh member whose latest status looks bad only since a moment ago: unhealthy for less than
 * heartbeatTimeoutMs, or missing from the primary's replication for less than syncLossMs. One
 * status sample is not a verdict (an agent may publish mid-observation, a query may time out
 * under load); decisions that would otherwise refuse or abort wait through a blip instead.
 */
export function isBlip(ctx: Ctx, m: ObservedMember | undefined): m is ObservedMember {
  if (!isFresh(ctx, m)) return false;
  const t = ctx.spec.timing;
  if (!m.status.healthy) return m.unhealthySince != null && ctx.now - m.unhealthySince < t.heartbeatTimeoutMs;
  return m.notStreamingSince !== null && ctx.now - m.notStreamingSince < t.syncLossMs;
}

/** Best LSN a standby holds: what it has received, else replayed. */
export function standbyLsn(m: ObservedMember): string | null {
  return m.status.receiveLsn ?? m.status.replayLsn ?? m.status.lsn;
}

/** Highest LSN first, then name, for deterministic choices. */
export function byLsnDesc(a: ObservedMember, b: ObservedMember): number {
  const c = compareLsn(standbyLsn(b), standbyLsn(a));
  return c !== 0 ? c : a.status.name.localeCompare(b.status.name);
}

/** Flush LSN of a standby as the primary's pg_stat_replication reports it. */
export function flushOnPrimary(ctx: Ctx, name: MemberName): string | null {
  const p = member(ctx, ctx.view.primary);
  const row = p?.status.replication.find((r) => r.name === name);
  return row?.flushLsn ?? null;
}

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

export function describeLsn(m: ObservedMember | undefined): string {
  return m ? (standbyLsn(m) ?? 'unknown LSN') : 'unknown LSN';
}

export function list(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.join(', ');
}
