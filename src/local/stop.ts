// Orderly stop of a local deployment, by verified pid only: coordinators (so nobody fails
// over while members go away), routers (each stops its HAProxy and PgBouncer processes; any
// left behind by a dead router are stopped here through their verified pid files), agents,
// each member's postmaster (SIGINT = fast shutdown), then etcd. Shared by the supervisor's
// shutdown and by `down` when the supervisor is gone.
import { stopRouting } from '../routing/processes.js';
import type { Layout } from './layout.js';
import { isRefAlive, postmasterOf, stopRef, type ProcRef, type StopPolicy } from './proc.js';
import { liveRoutingProcesses, routerConfigs, routingLayoutOf } from './routing.js';
import type { DeploymentState } from './state.js';

const NODE_POLICY: StopPolicy = { signal: 'SIGTERM', graceMs: 5000, escalate: 'SIGKILL', escalateGraceMs: 3000 };
/** SIGINT is postgres's fast shutdown; SIGQUIT its immediate shutdown. Never SIGKILL a postmaster. */
const POSTGRES_POLICY: StopPolicy = { signal: 'SIGINT', graceMs: 30000, escalate: 'SIGQUIT', escalateGraceMs: 10000 };
const ETCD_POLICY: StopPolicy = { signal: 'SIGTERM', graceMs: 10000, escalate: 'SIGKILL', escalateGraceMs: 3000 };

export interface StopReport {
  /** "agent pg1 (pid 123)" */
  stopped: string[];
  /** Still alive after every attempt. */
  failed: string[];
}

interface Target {
  what: string;
  ref: ProcRef;
}

async function stopAll(targets: Target[], policy: StopPolicy, log: (line: string) => void, report: StopReport): Promise<void> {
  await Promise.all(
    targets.map(async (t) => {
      if (!isRefAlive(t.ref)) return;
      log(`stopping ${t.what} (pid ${t.ref.pid})`);
      const gone = await stopRef(t.ref, policy, log, t.what);
      (gone ? report.stopped : report.failed).push(`${t.what} (pid ${t.ref.pid})`);
    }),
  );
}

function refs<T>(items: T[], what: (x: T) => string, ref: (x: T) => ProcRef | null): Target[] {
  const out: Target[] = [];
  for (const x of items) {
    const r = ref(x);
    if (r) out.push({ what: what(x), ref: r });
  }
  return out;
}

export async function stopDeploymentProcesses(state: DeploymentState, layout: Layout, log: (line: string) => void): Promise<StopReport> {
  const report: StopReport = { stopped: [], failed: [] };
  await stopAll(refs(state.coordinators, (c) => `coordinator ${c.id}`, (c) => c.proc), NODE_POLICY, log, report);
  await stopAll(refs(state.routers ?? [], (r) => `router ${r.id}`, (r) => r.proc), NODE_POLICY, log, report);
  for (const cfg of routerConfigs(state, layout)) {
    const left = liveRoutingProcesses({ ...state, routers: [{ id: cfg.id, proc: null }] }, layout);
    if (left.length === 0) continue;
    log(`stopping what router ${cfg.id} left running: ${left.join(', ')}`);
    await stopRouting(routingLayoutOf(cfg)).catch((e: unknown) => log(`stopping router ${cfg.id}'s processes failed: ${String(e)}`));
  }
  await stopAll(refs(state.members, (m) => `agent ${m.name}`, (m) => m.proc), NODE_POLICY, log, report);
  await stopAll(refs(state.members, (m) => `postgres ${m.name}`, (m) => postmasterOf(layout.memberData(m.name))), POSTGRES_POLICY, log, report);
  await stopAll(state.etcd.proc ? [{ what: 'etcd', ref: state.etcd.proc }] : [], ETCD_POLICY, log, report);
  return report;
}

/** Everything of the deployment that still lives (verified pids and postmasters). */
export function survivors(state: DeploymentState, layout: Layout): string[] {
  const out: string[] = [];
  const check = (what: string, ref: ProcRef | null) => {
    if (ref && isRefAlive(ref)) out.push(`${what} (pid ${ref.pid})`);
  };
  check('supervisor', state.supervisor);
  check('etcd', state.etcd.proc);
  for (const c of state.coordinators) check(`coordinator ${c.id}`, c.proc);
  for (const r of state.routers ?? []) check(`router ${r.id}`, r.proc);
  out.push(...liveRoutingProcesses(state, layout));
  for (const m of state.members) {
    check(`agent ${m.name}`, m.proc);
    check(`postgres ${m.name}`, postmasterOf(layout.memberData(m.name)));
  }
  return out;
}
