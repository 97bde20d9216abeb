// The coordinator's heart: decide(spec, observed, previousView, now) -> { view, actions, reason }.
// Pure: no I/O, no clock, no randomness. The loop (coordinator.ts) writes the view with
// compare-and-swap and performs the actions.
//
// Order of concerns in one pass:
//   1. bootstrap (no view yet)
//   2. an operator command
//   3. a switchover in progress
//   4. the primary failed -> failover to a confirmed synchronous standby (never anyone else)
//   5. the primary is healthy -> keep the synchronous set healthy and its proof moving
import { compareLsn } from '../domain/lsn.js';
import type { ClusterSpec, ClusterView, CoordinatorAction, Decision, Observed } from '../domain/types.js';
import { advanceSwitchover, decideCommand } from './decide-commands.js';
import { chooseFailoverCandidate, judgePrimary, promoteView } from './decide-failover.js';
import { decideSync } from './decide-sync.js';
import { type Ctx, isFresh, isSettled, list, member } from './member-health.js';

export function decide(spec: ClusterSpec, observed: Observed, previous: ClusterView | null, now: number): Decision {
  if (previous === null) return decideBootstrap(spec, observed, now);
  const ctx: Ctx = { spec, observed, view: previous, now };

  const cmd = decideCommand(ctx, previous);
  if (cmd !== null) return finish(previous, cmd.view, cmd.changed, cmd.reason, cmd.actions, now);

  if (previous.switchover !== null) {
    const step = advanceSwitchover(ctx, previous);
    return finish(previous, step.view, step.changed, step.reason, step.actions, now);
  }

  const verdict = judgePrimary(ctx);
  if (verdict.failed) {
    const cand = chooseFailoverCandidate(ctx);
    if (cand.name === null) {
      const reason = `${verdict.why}; NOT failing over: ${cand.why}. Writes are unavailable; an operator may run 'ballast failover --to NAME --accept-data-loss'`;
      return { view: previous, actions: [], reason };
    }
    const reason = `failover: ${verdict.why}; promoting ${cand.why}`;
    return finish(previous, promoteView(ctx, cand.name, reason), true, reason, [{ kind: 'event', level: 'warn', message: reason }], now);
  }

  const p = member(ctx, previous.primary);
  const primaryUp = isFresh(ctx, p) && p.status.healthy && p.status.inRecovery === false && !p.status.fenced;
  if (!primaryUp) return { view: previous, actions: [], reason: verdict.why };

  let view = previous;
  let changed = false;
  const reasons: string[] = [];
  if (p.status.timeline !== null && p.status.timeline !== view.timeline) {
    view = { ...view, timeline: p.status.timeline };
    changed = true;
    reasons.push(`primary ${view.primary} on timeline ${p.status.timeline}`);
  }
  const sync = decideSync(ctx, view);
  if (sync.changed) {
    view = sync.view;
    changed = true;
  }
  if (sync.reason !== null) reasons.push(sync.reason);
  const reason = reasons.length ? reasons.join('; ') : steadyReason(ctx);
  const actions: CoordinatorAction[] = sync.changed && sync.reason ? [{ kind: 'event', level: 'info', message: sync.reason }] : [];
  return finish(previous, view, changed, reason, actions, now);
}

function finish(previous: ClusterView, view: ClusterView, changed: boolean, reason: string, actions: CoordinatorAction[], now: number): Decision {
  if (!changed) return { view: previous, actions, reason };
  const generation = view.generation > previous.generation ? view.generation : previous.generation + 1;
  return { view: { ...view, generation, reason, updatedAt: now }, actions, reason };
}

function steadyReason(ctx: Ctx): string {
  const v = ctx.view;
  const p = member(ctx, v.primary);
  const asyncs = Object.keys(ctx.observed.members).filter((n) => n !== v.primary && !v.syncStandbys.includes(n));
  return `steady: ${v.primary} primary (timeline ${v.timeline}, ${p?.status.lsn ?? '?'}), sync [${list(v.syncStandbys)}] confirmed [${list(v.syncConfirmed)}], async [${list(asyncs)}]`;
}

function decideBootstrap(spec: ClusterSpec, observed: Observed, now: number): Decision {
  const empty: ClusterView = {
    generation: 0, primary: null, primarySince: now, timeline: 0, syncStandbys: [], syncConfirmed: [],
    syncChange: null, unreplicated: true, switchover: null, lastCommand: null, reason: '', updatedAt: now,
  };
  const ctx: Ctx = { spec, observed, view: empty, now };
  if (!isSettled(ctx)) return { view: null, actions: [], reason: 'bootstrap: waiting for members to register' };
  const live = Object.values(observed.members).filter((m) => isFresh(ctx, m));
  if (live.length === 0) return { view: null, actions: [], reason: 'bootstrap: no member has registered yet' };
  // Prefer a member that already has data and is not a standby, then the most WAL, then any.
  const withData = live.filter((m) => m.status.postgres !== 'absent' && m.status.systemId !== null);
  const pool = withData.length ? withData : live;
  pool.sort((a, b) => {
    const ra = a.status.inRecovery === false ? 0 : 1;
    const rb = b.status.inRecovery === false ? 0 : 1;
    if (ra !== rb) return ra - rb;
    const l = compareLsn(b.status.lsn, a.status.lsn);
    return l !== 0 ? l : a.status.name.localeCompare(b.status.name);
  });
  const chosen = pool[0]!.status.name;
  const reason = withData.length
    ? `bootstrap: ${chosen} has existing data and becomes primary`
    : `bootstrap: initialising ${chosen} as the first primary (members: ${list(live.map((m) => m.status.name).sort())})`;
  return {
    view: { ...empty, generation: 1, primary: chosen, reason },
    actions: [{ kind: 'event', level: 'info', message: reason }],
    reason,
  };
}
