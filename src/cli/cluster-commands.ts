// `ballast status`, `events`, `switchover`, `failover`: read the cluster, or place an
// operator command and follow it until the coordinator reports its outcome.
import { randomUUID } from 'node:crypto';
import { BallastError, CommandFailedError, InvalidInputError, TimeoutError, errorMessage } from '../domain/errors.js';
import type { Command, CommandOutcome } from '../domain/types.js';
import { sleep } from '../local/proc.js';
import type { ClusterSnapshot, Store } from '../store/store.js';
import { parseIntArg, parseName } from './args.js';
import { describeCluster, renderDescription, renderTable } from './describe.js';
import { EXIT_OK, createProgress, printJson, type Io } from './io.js';
import { checkTargetFlags, resolveTarget, withStore, type TargetOptions } from './target.js';

export const COMMAND_TIMEOUT_MS = 60000;
const POLL_MS = 250;

export async function statusCommand(io: Io, o: TargetOptions & { json?: boolean }): Promise<number> {
  const t = resolveTarget(o);
  const snap = await withStore(t.endpoints, (s) => s.readCluster(t.cluster));
  const d = describeCluster(snap, t.known, Date.now());
  d.cluster ??= t.cluster;
  if (o.json) printJson(io, d);
  else io.out(renderDescription(d));
  return EXIT_OK;
}

export async function eventsCommand(io: Io, o: TargetOptions & { json?: boolean; limit?: string }): Promise<number> {
  const limit = o.limit === undefined ? 50 : parseIntArg('--limit', o.limit, 1, 10000);
  const t = resolveTarget(o);
  const events = await withStore(t.endpoints, (s) => s.listEvents(t.cluster, limit));
  if (o.json) printJson(io, events);
  else if (events.length === 0) io.out('no events\n');
  else {
    const rows = events.map((e) => [new Date(e.at).toISOString(), e.level, e.source, e.message]);
    io.out(`${renderTable(['AT', 'LEVEL', 'SOURCE', 'MESSAGE'], rows)}\n`);
  }
  return EXIT_OK;
}

export interface OperatorCommandOptions extends TargetOptions {
  to?: string;
  acceptDataLoss?: boolean;
  json?: boolean;
}

/** Pure flag checks (no I/O): names, required --to for failover. */
export function checkOperatorFlags(kind: Command['kind'], o: OperatorCommandOptions): void {
  checkTargetFlags(o);
  if (kind === 'failover' && o.to === undefined) throw new InvalidInputError('failover needs --to NAME (the member to promote)');
  if (kind === 'switchover' && o.acceptDataLoss) throw new InvalidInputError('--accept-data-loss applies to failover only');
  if (o.to !== undefined) parseName('--to', o.to);
}

async function readQuietly(store: Store, cluster: string): Promise<ClusterSnapshot | null> {
  try {
    return await store.readCluster(cluster);
  } catch {
    return null;
  }
}

function pendingLine(kind: string, snap: ClusterSnapshot | null): string {
  if (!snap) return `waiting: ${kind} requested; etcd not answering`;
  const so = snap.view?.switchover;
  if (so) return `waiting: switchover ${so.from} -> ${so.to}, phase ${so.phase}`;
  if (!snap.coordinatorLeader) return `waiting: ${kind} requested; no coordinator leader`;
  return `waiting: ${kind} requested; coordinator ${snap.coordinatorLeader} has not reported an outcome yet`;
}

async function pollUntil<T>(deadline: number, step: () => Promise<T | null>, timeoutMessage: string): Promise<T> {
  for (;;) {
    const r = await step();
    if (r !== null) return r;
    if (Date.now() > deadline) throw new TimeoutError(timeoutMessage);
    await sleep(POLL_MS);
  }
}

export async function operatorCommand(io: Io, kind: Command['kind'], o: OperatorCommandOptions): Promise<number> {
  checkOperatorFlags(kind, o);
  const t = resolveTarget(o);
  const progress = createProgress(io);
  return withStore(t.endpoints, async (store) => {
    const before = await store.readCluster(t.cluster);
    const known = new Set([...t.known.map((k) => k.name), ...before.members.map((m) => m.name)]);
    if (o.to !== undefined && !known.has(o.to)) {
      throw new InvalidInputError(`--to ${o.to}: no such member in cluster ${t.cluster} (members: ${[...known].sort().join(', ') || 'none'})`);
    }
    if (!before.view?.primary) throw new CommandFailedError(`cluster ${t.cluster} has no primary yet; nothing to ${kind}`);
    if (o.to !== undefined && o.to === before.view.primary && kind === 'switchover') {
      throw new InvalidInputError(`${o.to} is already the primary`);
    }
    const command: Command = { id: randomUUID(), kind, to: o.to ?? null, acceptDataLoss: o.acceptDataLoss === true, requestedAt: Date.now() };
    await store.putCommand(t.cluster, command);
    progress(`${kind} ${command.id} requested: ${before.view.primary} -> ${command.to ?? '(best standby)'}`);
    const deadline = Date.now() + COMMAND_TIMEOUT_MS;
    const outcome = await pollUntil<CommandOutcome>(
      deadline,
      async () => {
        const snap = await readQuietly(store, t.cluster);
        const last = snap?.view?.lastCommand;
        if (last && last.id === command.id) return last;
        progress(pendingLine(kind, snap));
        return null;
      },
      `no outcome for ${kind} ${command.id} after ${COMMAND_TIMEOUT_MS / 1000} s; it may still complete (see "ballast status" and "ballast events")`,
    );
    if (outcome.result !== 'done') throw new BallastError('COMMAND_FAILED', `${kind} ${outcome.result}: ${outcome.message}`);
    progress(`${kind} done: ${outcome.message}`);
    const primary = await pollUntil<string>(
      Date.now() + COMMAND_TIMEOUT_MS,
      async () => {
        const snap = await readQuietly(store, t.cluster);
        const p = snap?.view?.primary ?? null;
        const st = snap?.members.find((m) => m.name === p);
        if (p && st?.healthy && st.inRecovery === false) return p;
        progress(`waiting: new primary ${p ?? '(none)'} ${st ? st.activity : 'has no status yet'}`);
        return null;
      },
      `${kind} was done but the new primary did not report healthy within ${COMMAND_TIMEOUT_MS / 1000} s`,
    );
    const result = { id: command.id, kind, result: outcome.result, message: outcome.message, previousPrimary: before.view?.primary ?? null, primary };
    if (o.json) printJson(io, result);
    else io.out(`${kind} done: ${primary} is the primary (was ${result.previousPrimary}). ${outcome.message}\n`);
    return EXIT_OK;
  }).catch((e: unknown) => {
    if (e instanceof BallastError) throw e;
    throw new BallastError('INTERNAL', `while running ${kind}: ${errorMessage(e)}`, { cause: e });
  });
}

