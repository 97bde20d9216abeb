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

/** A healthy standby streaming from the view's primary, as the primary itself reports. */
export function isStreamingStandby(ctx: Ctx, m: ObservedMember | undefined): m is ObservedMember {
  return isHealthyStandby(ctx, m) && m.status.streamingFrom === ctx.view.primary && m.notStreamingSince === null;
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
