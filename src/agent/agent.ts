// Agent (keeper): one per Postgres member. Three independent loops:
//   - etcd tick (heartbeatMs): publish status under the lease, read the view; when etcd is
//     unreachable and we are primary, ask peers the failsafe question;
//   - probe tick (standbys): can we reach the view's primary postgres?
//   - control loop: observe postgres, reconcile() to one step, execute it (see reconcile.ts).
// Postgres runs detached: it survives the agent, and a restarted agent adopts it.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { loadJsonFile, secretsSchema, type AgentConfig } from '../domain/config.js';
import { errorMessage } from '../domain/errors.js';
import { createLogger, type Logger } from '../domain/log.js';
import { defaultSpec, type ClusterSpec, type ClusterView, type MemberStatus } from '../domain/types.js';
import { createEtcdStore } from '../store/etcd-store.js';
import type { MemberSession, Store } from '../store/store.js';
import { AgentExecutor } from './agent-executor.js';
import { buildStatus } from './agent-status.js';
import { confirmRole, isFailsafeQuorum, shouldFence } from './fence.js';
import { startHealthServer } from './health-server.js';
import type { HealthFacts } from './health-checks.js';
import { LagTracker } from './lag-tracker.js';
import { slotName, type PgControl, type Upstream } from './pg-control.js';
import { PostgresControl } from './postgres-control.js';
import { isStreamingFrom, reconcile, type AgentMemory } from './reconcile.js';
import { divergedFromPrimary } from './timeline.js';
import { REPO_PROBE_INTERVAL_MS, RepoProbe } from './repo-probe.js';

export interface AgentHandle {
  /** Stop the agent loop and its HTTP server; postgres keeps running. */
  stop(): Promise<void>;
  done: Promise<void>;
}

const PROBE_INTERVAL_MS = 200;
const PROBE_TIMEOUT_MS = 400;
const REJOIN_TIMEOUT_MS = 10_000;

/** Everything the agent knows; the loops read and write it, buildStatus() turns it into status. */
export class AgentState {
  view: ClusterView | null = null;
  spec: ClusterSpec;
  members: MemberStatus[] = [];
  addresses = new Map<string, Upstream>();
  lastEtcdOkAt = Number.NEGATIVE_INFINITY;
  lastFailsafeOkAt = Number.NEGATIVE_INFINITY;
  lastEtcdFailAt = Number.NEGATIVE_INFINITY;
  lastFailsafeFailAt = Number.NEGATIVE_INFINITY;
  primaryReachable: boolean | null = null;
  /** performance.now() when the probe in flight started (null between probes). */
  probeStartedAt: number | null = null;
  unreachableSince: number | null = null;
  lag = new LagTracker();
  seq = 0;
  mem: AgentMemory = { restartAttempts: 0, nextStartAt: 0, needsRewind: false, configuredUpstream: null, repointedAt: 0, streamingAt: 0, rolesEnsured: false };
  constructor(readonly config: AgentConfig) {
    this.spec = defaultSpec(config.cluster);
  }
  /**
   * The probe's verdict on the primary. A probe still in flight after twice its timeout counts as
   * "unreachable since it started": a probe that hangs (it did, waiting on a close to a cut-off
   * host) must not leave a stale "reachable" that blocks a failover.
   */
  reachability(now: number): { reachable: boolean | null; unreachableSince: number | null } {
    if (this.probeStartedAt !== null && now - this.probeStartedAt > 2 * PROBE_TIMEOUT_MS) {
      return { reachable: false, unreachableSince: Math.min(this.unreachableSince ?? this.probeStartedAt, this.probeStartedAt) };
    }
    return { reachable: this.primaryReachable, unreachableSince: this.unreachableSince };
  }
  upstream(): Upstream | null {
    const p = this.view?.primary;
    return p && p !== this.config.name ? (this.addresses.get(p) ?? null) : null;
  }
  primaryStatus(): MemberStatus | undefined {
    return this.members.find((m) => m.name === this.view?.primary);
  }
  mustFence(): boolean {
    return this.view?.primary === this.config.name && shouldFence({
      now: performance.now(), lastEtcdOkAt: this.lastEtcdOkAt, lastFailsafeOkAt: this.lastFailsafeOkAt,
      lastEtcdFailAt: this.lastEtcdFailAt, lastFailsafeFailAt: this.lastFailsafeFailAt, fenceAfterMs: this.spec.timing.fenceAfterMs,
    });
  }
  confirmation() {
    return confirmRole({ now: performance.now(), lastEtcdOkAt: this.lastEtcdOkAt, lastFailsafeOkAt: this.lastFailsafeOkAt, fenceAfterMs: this.spec.timing.fenceAfterMs });
  }
}

export async function startAgent(config: AgentConfig, deps: { store?: Store; pg?: PgControl } = {}): Promise<AgentHandle> {
  const log = createLogger('agent', { cluster: config.cluster, member: config.name });
  const secrets = loadJsonFile(secretsSchema, config.secretsFile, 'secrets file');
  const store = deps.store ?? createEtcdStore(config.etcd);
  const pg = deps.pg ?? new PostgresControl(config, secrets, log);
  const state = new AgentState(config);
  const exec = new AgentExecutor(config, pg, state, log, (level, message) => {
    void store.appendEvent(config.cluster, { at: Date.now(), source: `agent:${config.name}`, level, message }).catch(() => undefined);
  });
  let stopped = false;
  let session: MemberSession | null = null;

  const repo = new RepoProbe(config, secrets);
  const repoTick = async () => {
    if (exec.obs?.inRecovery !== false) {
      if (repo.last !== null) exec.noteRepo(null);
      repo.clear();
      return;
    }
    exec.noteRepo(await repo.probe());
  };
  const facts = (): HealthFacts => ({ status: buildStatus(state, exec, false), view: state.view, confirmation: state.confirmation() });
  const http: FastifyInstance = await startHealthServer(config.apiHost, config.apiPort, facts);

  // A loop sleeps between passes; wake(name) cuts the sleep short (or skips the next one when the
  // loop is busy), so a new view is acted on, and a step's outcome published, at once.
  const wakers = new Map<string, () => void>();
  const pendingWake = new Set<string>();
  const wake = (name: string) => {
    const w = wakers.get(name);
    if (w) w();
    else pendingWake.add(name);
  };

  const etcdTick = async () => {
    const t0 = performance.now();
    try {
      session ??= await store.openMemberSession(config.cluster, config.name, state.spec.timing.leaseTtlSec);
      await session.publish(buildStatus(state, exec, true));
      const snap = await store.readCluster(config.cluster);
      state.lastEtcdOkAt = performance.now();
      if (snap.spec) state.spec = snap.spec;
      if (snap.view && (state.view === null || snap.view.generation >= state.view.generation)) {
        if (snap.view.generation !== state.view?.generation) wake('control');
        state.view = snap.view;
      }
      state.members = snap.members;
      for (const m of snap.members) state.addresses.set(m.name, { name: m.name, host: m.host, port: m.port });
      state.lag.sample(state.primaryStatus()?.flushLsn ?? null, performance.now());
    } catch (e) {
      log.debug({ err: errorMessage(e) }, 'etcd tick failed');
      state.lastEtcdFailAt = t0;
      await maybeFailsafe();
    }
  };

  let failsafeBusy = false;
  const maybeFailsafe = async () => {
    const v = state.view;
    if (failsafeBusy || v?.primary !== config.name || exec.obs?.inRecovery !== false) return;
    if (performance.now() - state.lastEtcdOkAt < state.spec.timing.fenceAfterMs / 2) return;
    failsafeBusy = true;
    const t0 = performance.now();
    try {
      const peers = state.members.filter((m) => m.name !== config.name);
      const answers = await Promise.all(peers.map((p) => askFailsafe(p, config.name, v.generation)));
      const yes = answers.filter(Boolean).length;
      if (isFailsafeQuorum(yes, peers.length + 1)) {
        state.lastFailsafeOkAt = performance.now();
      } else {
        state.lastFailsafeFailAt = t0;
        log.warn({ yes, peers: peers.length }, 'etcd unreachable and no failsafe quorum');
      }
    } finally {
      failsafeBusy = false;
    }
  };

  const probeTick = async () => {
    const up = state.upstream();
    if (!up) {
      state.primaryReachable = null;
      state.unreachableSince = null;
      return;
    }
    state.probeStartedAt = performance.now();
    const ok = await pg.probe(up, PROBE_TIMEOUT_MS);
    state.probeStartedAt = null;
    state.primaryReachable = ok;
    if (ok) state.unreachableSince = null;
    else state.unreachableSince ??= performance.now();
  };

  const controlPass = async () => {
    await exec.observe();
    const conf = state.confirmation();
    const v = state.view;
    const up = state.upstream();
    if (up && isStreamingFrom(exec.obs, up)) state.mem.streamingAt = performance.now();
    const replay = exec.obs?.inRecovery ? exec.obs.replayLsn : null;
    if (replay !== null && replay !== state.mem.lastReplayLsn) {
      state.mem.replayAdvancedAt = performance.now();
      state.mem.lastReplayLsn = replay;
    }
    const receiver = exec.obs?.inRecovery ? exec.obs.receiver : null;
    if (receiver?.status === 'streaming' && receiver.receivedTli !== null) state.mem.streamedTli = receiver.receivedTli;
    const primary = state.primaryStatus();
    // The primary's own status may be up to a lease TTL stale: also require our probe to reach it.
    const upstreamHealthy = isHealthyPrimary(primary) && state.primaryReachable === true;
    if (!upstreamHealthy) state.mem.upstreamHealthySince = null;
    else state.mem.upstreamHealthySince ??= performance.now();
    const step = reconcile({
      me: config.name,
      view: v,
      roleConfirmed: conf !== 'none',
      fence: state.mustFence(),
      upstream: up,
      upstreamHealthy,
      upstreamDiverged: exec.obs?.inRecovery === true && divergedFromPrimary({
        primaryTimeline: primary?.timeline ?? null, primaryHistory: primary?.timelineHistory,
        streamedTli: state.mem.streamedTli ?? null, localTimeline: exec.obs.timeline, replayLsn: exec.obs.replayLsn,
      }),
      otherHasData: state.members.some((m) => m.name !== config.name && m.systemId !== null),
      wantedSlots: [...new Set([...state.members.map((m) => m.name), ...(v?.syncStandbys ?? [])])].filter((n) => n !== config.name).map(slotName),
      local: exec.local(),
      mem: state.mem,
      now: performance.now(),
      rejoinTimeoutMs: REJOIN_TIMEOUT_MS,
    });
    await exec.run(step);
    if (step.kind !== 'wait') {
      // Something changed: publish without waiting out the interval, and observe again at once
      // (not after configure-primary: postgres applies a reload asynchronously, so observing at
      // once would only repeat the step).
      wake('etcd');
      if (step.kind !== 'configure-primary') wake('control');
    }
  };

  const loop = async (intervalMs: () => number, body: () => Promise<void>, name: string) => {
    while (!stopped) {
      const t0 = performance.now();
      try {
        await body();
      } catch (e) {
        log.error({ err: errorMessage(e), loop: name }, 'loop pass failed');
        exec.lastError = errorMessage(e);
      }
      if (pendingWake.delete(name)) {
        await sleep(5);
        continue;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(10, intervalMs() - (performance.now() - t0)));
        wakers.set(name, () => {
          clearTimeout(t);
          resolve();
        });
      });
      wakers.delete(name);
    }
  };

  log.info({ apiPort: config.apiPort, port: config.port }, 'agent started');
  const done = Promise.all([
    loop(() => state.spec.timing.heartbeatMs, etcdTick, 'etcd'),
    loop(() => PROBE_INTERVAL_MS, probeTick, 'probe'),
    loop(() => 100, controlPass, 'control'),
    ...(repo.enabled ? [loop(() => REPO_PROBE_INTERVAL_MS, repoTick, 'repo')] : []),
  ]).then(() => undefined);

  return {
    done,
    async stop() {
      stopped = true;
      await done.catch(() => undefined);
      await http.close().catch(() => undefined);
      await session?.close().catch(() => undefined);
      await pg.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      log.info('agent stopped (postgres left running)');
    },
  };
}

function isHealthyPrimary(s: MemberStatus | undefined): boolean {
  return s !== undefined && s.healthy && s.inRecovery === false && !s.fenced;
}

async function askFailsafe(peer: MemberStatus, me: string, generation: number): Promise<boolean> {
  try {
    const res = await fetch(`http://${peer.host}:${peer.apiPort}/failsafe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ primary: me, generation }),
      signal: AbortSignal.timeout(500),
    });
    return res.status === 200;
  } catch {
    return false;
  }
}

export type { Logger };
