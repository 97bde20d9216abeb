// Builds the MemberStatus an agent publishes (pure given its inputs).
import { performance } from 'node:perf_hooks';
import { archiveStatusOf, type ArchiveStatus } from '../domain/archive.js';
import { lsnDiff } from '../domain/lsn.js';
import type { MemberStatus } from '../domain/types.js';
import type { AgentExecutor } from './agent-executor.js';
import type { AgentState } from './agent.js';

export function buildStatus(state: AgentState, exec: AgentExecutor, bumpSeq: boolean): MemberStatus {
  const c = state.config;
  const now = performance.now();
  const reach = state.reachability(now);
  const obs = exec.obs;
  const standby = obs?.inRecovery === true;
  const primary = obs?.inRecovery === false;
  const primaryFlush = state.primaryStatus()?.flushLsn ?? state.lag.latest();
  if (bumpSeq) state.seq += 1;
  let streamingFrom: string | null = null;
  const r = obs?.receiver;
  if (standby && r && r.status === 'streaming') {
    const match = [...state.addresses.values()].find((a) => a.port === r.senderPort && (r.senderHost === null || a.host === r.senderHost || r.senderHost.startsWith('/')));
    streamingFrom = match?.name ?? null;
  }
  return {
    name: c.name,
    host: c.host,
    port: c.port,
    apiPort: c.apiPort,
    agentPid: process.pid,
    postgresPid: exec.pid,
    seq: state.seq,
    at: Date.now(),
    viewGeneration: state.view?.generation ?? 0,
    postgres: exec.lifecycle(),
    healthy: exec.healthy(),
    inRecovery: obs ? obs.inRecovery : null,
    timeline: obs?.timeline ?? exec.control?.timeline ?? null,
    timelineHistory: exec.timelineHistory(),
    systemId: obs?.systemId ?? exec.control?.systemId ?? null,
    lsn: obs ? (primary ? obs.currentLsn : (obs.receiveLsn ?? obs.replayLsn)) : (exec.control?.checkpointLsn ?? null),
    flushLsn: obs ? obs.flushLsn : null,
    receiveLsn: obs?.receiveLsn ?? null,
    replayLsn: obs?.replayLsn ?? null,
    lagBytes: primary ? 0 : standby ? lsnDiff(primaryFlush, obs.replayLsn) : null,
    lagMs: primary ? 0 : standby ? state.lag.lagMs(obs.replayLsn, now) : null,
    appliedSync: primary ? obs.syncStandbyNames : null,
    replication: primary ? obs.replication : [],
    streamingFrom,
    primaryReachable: standby ? reach.reachable : null,
    primaryUnreachableForMs: standby && reach.unreachableSince !== null ? Math.round(now - reach.unreachableSince) : 0,
    fenced: exec.fenced,
    restartAttempts: state.mem.restartAttempts,
    downForMs: exec.downSince !== null ? Math.round(now - exec.downSince) : null,
    rejoin: exec.rejoin,
    archive: obs?.archiver ? withRepo(archiveStatusOf(obs.archiver, primary ? obs.currentLsn : null, Date.now()), primary ? exec.repo : null) : null,
    activity: exec.activity,
    lastError: exec.lastError,
  };
}

/** The primary's repository probe joins its archive status: an unreachable repository is failing. */
function withRepo(a: ArchiveStatus, repo: { reachable: boolean; error: string | null } | null): ArchiveStatus {
  if (repo === null) return a;
  return { ...a, repoReachable: repo.reachable, repoError: repo.error, failing: a.failing || !repo.reachable };
}
