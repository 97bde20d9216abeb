// Operator commands (switchover, failover) and the switchover state machine (pure).
//
// Switchover P -> T, no acknowledged commit lost:
//   sync-target: T is made a confirmed synchronous standby (if it is not already);
//   pausing:     every live router PAUSEs the read-write transaction pools of its poolers:
//                in-flight transactions finish, new ones wait in PgBouncer (clients see a
//                pause, not an error); skipped when no router runs;
//   stopping:    P's agent shuts postgres down cleanly (fast); walsenders send everything,
//                including the shutdown checkpoint, to connected standbys before exiting;
//   promote:     once P reports stopped at checkpoint LSN L and T has received past L,
//                the view names T primary; P rejoins as a standby.
// Timeouts abort cleanly: the view keeps P as primary and P's agent starts it again; routers
// RESUME as soon as the view no longer holds a switchover in pausing or stopping, and after a
// completed switchover once HAProxy routes rw to the promoted T.
import { compareLsn } from '../domain/lsn.js';
import type { ClusterView, Command, CommandOutcome, CoordinatorAction, MemberName, ObservedMember, ObservedRouter } from '../domain/types.js';
import { promoteView } from './decide-failover.js';
import { decideSync } from './decide-sync.js';
import { byLsnDesc, type Ctx, isBlip, isFresh, isHealthyStandby, isStreamingStandby, list, member, standbyLsn, whyNotHealthyStandby, whyNotStreamingStandby } from './member-health.js';

export interface CommandStep {
  view: ClusterView;
  changed: boolean;
  reason: string;
  actions: CoordinatorAction[];
}

function outcome(ctx: Ctx, cmd: Pick<Command, 'id' | 'kind'>, result: CommandOutcome['result'], message: string): CommandOutcome {
  return { id: cmd.id, kind: cmd.kind, result, message, at: ctx.now };
}

function reject(ctx: Ctx, view: ClusterView, cmd: Command, message: string): CommandStep {
  return {
    view: { ...view, generation: view.generation + 1, lastCommand: outcome(ctx, cmd, 'rejected', message), reason: `${cmd.kind} rejected: ${message}`, updatedAt: ctx.now },
    changed: true,
    reason: `${cmd.kind} rejected: ${message}`,
    actions: [{ kind: 'consume-command', id: cmd.id }, { kind: 'event', level: 'warn', message: `${cmd.kind} rejected: ${message}` }],
  };
}

function primaryHealthy(ctx: Ctx, view: ClusterView): boolean {
  const p = member(ctx, view.primary);
  return isFresh(ctx, p) && p.status.healthy && p.status.inRecovery === false && !p.status.fenced;
}

/** Accept or reject a new operator command. Returns null when there is none to handle. */
export function decideCommand(ctx: Ctx, view: ClusterView): CommandStep | null {
  const cmd = ctx.observed.command;
  if (cmd === null || view.lastCommand?.id === cmd.id || view.switchover?.id === cmd.id) return null;
  if (view.switchover !== null) return reject(ctx, view, cmd, `switchover ${view.switchover.from} -> ${view.switchover.to} is in progress`);
  if (view.primary === null) return reject(ctx, view, cmd, 'the cluster has no primary yet');
  if (cmd.to !== null && cmd.to === view.primary) return reject(ctx, view, cmd, `${cmd.to} is already the primary`);
  if (cmd.to !== null && !(cmd.to in ctx.observed.members)) return reject(ctx, view, cmd, `unknown or silent member ${cmd.to}`);

  // A command is judged on lasting facts: while the primary or a would-be target only blips
  // (see isBlip), leave the command pending for the next pass instead of rejecting it.
  const c = { ...ctx, view };
  if (primaryHealthy(ctx, view)) {
    // Planned: both "switchover" and "failover --to" with a live primary go the safe way.
    const target = cmd.to ?? bestSwitchoverTarget(ctx, view);
    if (target === null) {
      if (Object.values(ctx.observed.members).some((m) => m.status.name !== view.primary && isBlip(c, m))) return null;
      return reject(ctx, view, cmd, 'no healthy standby streams from the primary');
    }
    if (!isStreamingStandby(c, member(ctx, target))) {
      if (isBlip(c, member(ctx, target))) return null;
      return reject(ctx, view, cmd, `${target} is not a healthy standby streaming from ${view.primary}: ${whyNotStreamingStandby(c, member(ctx, target))}`);
    }
    const next: ClusterView = {
      ...view,
      generation: view.generation + 1,
      switchover: { id: cmd.id, from: view.primary, to: target, phase: 'sync-target', startedAt: ctx.now },
      reason: `switchover ${view.primary} -> ${target} requested`,
      updatedAt: ctx.now,
    };
    return {
      view: next,
      changed: true,
      reason: next.reason,
      actions: [{ kind: 'consume-command', id: cmd.id }, { kind: 'event', level: 'info', message: next.reason }],
    };
  }

  if (isBlip(c, member(ctx, view.primary)) && member(ctx, view.primary)?.status.inRecovery !== true) return null;
  if (cmd.kind === 'switchover') return reject(ctx, view, cmd, `primary ${view.primary} is not healthy; use failover`);
  const target = cmd.to;
  if (target === null) return reject(ctx, view, cmd, 'failover needs --to NAME');
  if (!isHealthyStandby(ctx, member(ctx, target))) return reject(ctx, view, cmd, `${target} is not a healthy standby`);
  const safe = view.syncConfirmed.includes(target);
  if (!safe && !cmd.acceptDataLoss) {
    return reject(ctx, view, cmd, `${target} is not a confirmed synchronous standby (confirmed: ${list(view.syncConfirmed)}) and may miss acknowledged commits; add --accept-data-loss to force it`);
  }
  const why = safe
    ? `manual failover to ${target} (confirmed synchronous standby at ${standbyLsn(member(ctx, target)!) ?? '?'})`
    : `FORCED failover to ${target} with --accept-data-loss: acknowledged commits may be lost`;
  const promoted = promoteView(ctx, target, why);
  return {
    view: { ...promoted, lastCommand: outcome(ctx, cmd, 'done', why) },
    changed: true,
    reason: why,
    actions: [{ kind: 'consume-command', id: cmd.id }, { kind: 'event', level: safe ? 'info' : 'error', message: why }],
  };
}

function bestSwitchoverTarget(ctx: Ctx, view: ClusterView): MemberName | null {
  const streaming = Object.values(ctx.observed.members)
    .filter((m) => m.status.name !== view.primary && isStreamingStandby({ ...ctx, view }, m))
    .sort(byLsnDesc);
  const confirmed = streaming.find((m) => view.syncConfirmed.includes(m.status.name));
  return (confirmed ?? streaming[0])?.status.name ?? null;
}

export interface RouterPauseJudgement {
  /** Routers that reported the pause of this switchover failed, with their error. */
  failed: { id: string; error: string }[];
  /** Routers that have not (yet) reported their poolers paused for this switchover. */
  waiting: string[];
}

/** Where the live routers stand with pausing for switchover `id` (pure). */
export function judgeRouterPause(routers: readonly ObservedRouter[], id: string): RouterPauseJudgement {
  const failed: { id: string; error: string }[] = [];
  const waiting: string[] = [];
  for (const r of routers) {
    const p = r.pause;
    if (p?.switchoverId === id && p.state === 'failed') failed.push({ id: r.id, error: p.error ?? 'unknown error' });
    else if (p?.switchoverId !== id || p.state !== 'paused') waiting.push(r.id);
  }
  return { failed, waiting };
}

/** Drive an in-progress switchover one step. */
export function advanceSwitchover(ctx: Ctx, view: ClusterView): CommandStep {
  const so = view.switchover!;
  const c = { ...ctx, view };
  const abort = (message: string): CommandStep => ({
    view: { ...view, generation: view.generation + 1, switchover: null, lastCommand: outcome(ctx, { id: so.id, kind: 'switchover' }, 'aborted', message), reason: `switchover aborted: ${message}`, updatedAt: ctx.now },
    changed: true,
    reason: `switchover aborted: ${message}`,
    actions: [{ kind: 'event', level: 'warn', message: `switchover ${so.from} -> ${so.to} aborted: ${message}` }],
  });
  const elapsed = ctx.now - so.startedAt;
  const target = member(ctx, so.to);
  if (elapsed > ctx.spec.timing.switchoverTimeoutMs) return abort(`not done within ${ctx.spec.timing.switchoverTimeoutMs} ms`);
  if (!isHealthyStandby(ctx, target)) {
    // One status saying "unhealthy" is not a failure (an agent may publish mid-observation, or
    // a probe query may time out under load): abort only once it has lasted heartbeatTimeoutMs.
    // Meanwhile nothing advances, and the target is never promoted on an unhealthy status.
    const t: ObservedMember | undefined = member(ctx, so.to);
    const why = whyNotHealthyStandby(ctx, t);
    if (!isBlip(ctx, t) || t.status.inRecovery === false) return abort(`target ${so.to} is no longer a healthy standby: ${why}`);
    return { view, changed: false, reason: `switchover: target ${so.to} reports unhealthy for ${ctx.now - (t.unhealthySince ?? ctx.now)} ms (${why}); waiting`, actions: [] };
  }

  if (so.phase === 'sync-target') {
    if (view.syncConfirmed.includes(so.to)) {
      const routers = ctx.observed.routers ?? [];
      const next = routers.length === 0
        ? { ...view, generation: view.generation + 1, switchover: { ...so, phase: 'stopping' as const }, reason: `switchover: ${so.to} is a confirmed synchronous standby; no router runs; stopping ${so.from}`, updatedAt: ctx.now }
        : { ...view, generation: view.generation + 1, switchover: { ...so, phase: 'pausing' as const, pausingSince: ctx.now }, reason: `switchover: ${so.to} is a confirmed synchronous standby; pausing the poolers of ${list(routers.map((r) => r.id))}`, updatedAt: ctx.now };
      return { view: next, changed: true, reason: next.reason, actions: [{ kind: 'event', level: 'info', message: next.reason }] };
    }
    const step = decideSync(c, view, [so.to]);
    return { view: step.view, changed: step.changed, reason: `switchover: making ${so.to} synchronous (${step.reason ?? 'in progress'})`, actions: [] };
  }

  if (so.phase === 'pausing') {
    const j = judgeRouterPause(ctx.observed.routers ?? [], so.id);
    if (j.failed.length > 0) return abort(`router ${j.failed.map((f) => `${f.id} could not pause its poolers: ${f.error}`).join('; ')}`);
    const pausingFor = ctx.now - (so.pausingSince ?? ctx.now);
    if (j.waiting.length === 0) {
      const next = { ...view, generation: view.generation + 1, switchover: { ...so, phase: 'stopping' as const }, reason: `switchover: poolers paused (${pausingFor} ms); stopping ${so.from}`, updatedAt: ctx.now };
      return { view: next, changed: true, reason: next.reason, actions: [{ kind: 'event', level: 'info', message: next.reason }] };
    }
    if (pausingFor > ctx.spec.timing.switchoverPauseMs) return abort(`router ${list(j.waiting)} did not report its poolers paused within ${ctx.spec.timing.switchoverPauseMs} ms`);
    return { view, changed: false, reason: `switchover: waiting for router ${list(j.waiting)} to pause its poolers`, actions: [] };
  }

  // phase 'stopping': wait for the old primary to stop cleanly and the target to hold its last WAL.
  const old = member(ctx, so.from);
  // Its agent is busy stopping postgres; on a loaded host it may publish late. Only a status that
  // expired (agent or host gone) aborts; a late one waits (switchoverTimeoutMs still bounds it).
  if (old === undefined) return abort(`old primary ${so.from} is gone (status expired) while stopping`);
  const silentMs = ctx.now - old.lastChangeAt;
  if (silentMs > ctx.spec.timing.heartbeatTimeoutMs) {
    return { view, changed: false, reason: `switchover: ${so.from}'s agent has published nothing new for ${silentMs} ms while stopping; waiting`, actions: [] };
  }
  if (old.status.postgres !== 'stopped' || old.status.lsn === null) {
    return { view, changed: false, reason: `switchover: waiting for ${so.from} to stop (${old.status.postgres})`, actions: [] };
  }
  const finalLsn = old.status.lsn;
  if (compareLsn(standbyLsn(target), finalLsn) <= 0) {
    return { view, changed: false, reason: `switchover: waiting for ${so.to} to receive past ${finalLsn} (at ${standbyLsn(target) ?? '?'})`, actions: [] };
  }
  const why = `switchover ${so.from} -> ${so.to}: ${so.from} stopped at ${finalLsn}, ${so.to} received ${standbyLsn(target)}`;
  const promoted = promoteView(ctx, so.to, why);
  return {
    view: { ...promoted, lastCommand: outcome(ctx, { id: so.id, kind: 'switchover' }, 'done', why) },
    changed: true,
    reason: why,
    actions: [{ kind: 'event', level: 'info', message: why }],
  };
}
