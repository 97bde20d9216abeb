// Coordinator (sentinel). Modes: candidate (campaigning) -> leader (observing, deciding) -> candidate
// when leadership is lost. Only the leader writes the view, with CAS guarded by leadership.
// With a backupDir in its config, the leader also takes the scheduled backups (backup/scheduler.ts).
// After gaining leadership, or after etcd comes back, it observes for settleMs before it judges
// any member failed (decide() enforces this through observed.observingSince).
import { setTimeout as sleep } from 'node:timers/promises';
import type { CoordinatorConfig } from '../domain/config.js';
import { errorMessage, StoreUnavailableError } from '../domain/errors.js';
import { createLogger } from '../domain/log.js';
import { defaultSpec, type ClusterView, type MemberStatus, type Observed, type ObservedMember } from '../domain/types.js';
import { createEtcdStore } from '../store/etcd-store.js';
import type { ClusterSnapshot, Leadership, Store } from '../store/store.js';
import { decide } from './decide.js';
import { BackupScheduler } from '../backup/scheduler.js';
import { localBackupRunner } from '../local/backup-run.js';

export interface CoordinatorHandle {
  stop(): Promise<void>;
  done: Promise<void>;
}

const TICK_MS = 100;

interface Track {
  seq: number;
  agentPid: number;
  lastChangeAt: number;
  notStreamingSince: number | null;
  unhealthySince: number | null;
}

/** Bookkeeping that turns snapshots into Observed: liveness by seq changes, streaming history. */
export class Observer {
  private tracks = new Map<string, Track>();
  private primary: string | null = null;
  observingSince: number;
  constructor(now: number) {
    this.observingSince = now;
  }
  observe(snap: ClusterSnapshot, now: number): Observed {
    const view = snap.view;
    if (view?.primary !== this.primary) {
      this.primary = view?.primary ?? null;
      for (const t of this.tracks.values()) t.notStreamingSince = null;
    }
    const primaryStatus = snap.members.find((m) => m.name === view?.primary);
    const members: Record<string, ObservedMember> = {};
    for (const s of snap.members) {
      let t = this.tracks.get(s.name);
      if (!t) {
        t = { seq: s.seq, agentPid: s.agentPid, lastChangeAt: now, notStreamingSince: null, unhealthySince: null };
        this.tracks.set(s.name, t);
      } else if (t.seq !== s.seq || t.agentPid !== s.agentPid) {
        t.seq = s.seq;
        t.agentPid = s.agentPid;
        t.lastChangeAt = now;
      }
      const streaming = streamsFrom(primaryStatus, s.name);
      if (streaming || s.name === view?.primary) t.notStreamingSince = null;
      else if (t.notStreamingSince === null) t.notStreamingSince = now;
      if (s.healthy) t.unhealthySince = null;
      else t.unhealthySince ??= now;
      members[s.name] = { status: s, lastChangeAt: t.lastChangeAt, notStreamingSince: t.notStreamingSince, unhealthySince: t.unhealthySince };
    }
    for (const name of [...this.tracks.keys()]) if (!snap.members.some((m) => m.name === name)) this.tracks.delete(name);
    const routers = (snap.routers ?? []).map((r) => ({ id: r.id, pause: r.pause ?? null }));
    return { members, observingSince: this.observingSince, command: snap.command, routers };
  }
}

function streamsFrom(primary: MemberStatus | undefined, name: string): boolean {
  return primary?.replication.some((r) => r.name === name && r.state === 'streaming') ?? false;
}

export async function startCoordinator(config: CoordinatorConfig, storeArg?: Store): Promise<CoordinatorHandle> {
  const log = createLogger('coordinator', { cluster: config.cluster, id: config.id });
  const store = storeArg ?? createEtcdStore(config.etcd);
  let stopped = false;
  let leadership: Leadership | null = null;
  // Scheduled backups (only with a backup site): a loop of its own, since a backup outlasts many
  // passes of the view loop; it passes only while this coordinator leads.
  const backupDir = config.backupDir;
  const scheduler = backupDir === undefined ? null : new BackupScheduler({
    store,
    cluster: config.cluster,
    id: config.id,
    runner: localBackupRunner(backupDir, store, (line) => log.info({ backups: true }, line)),
    log: (level, message) => log[level]({ backups: true }, message),
  });
  scheduler?.start(() => !stopped && leadership !== null && leadership.isLeader());

  const runTerm = async (l: Leadership): Promise<void> => {
    let observer: Observer | null = null;
    let lastReason = '';
    let etcdDown = false;
    while (!stopped && l.isLeader()) {
      const now = Date.now();
      try {
        const snap = await store.readCluster(config.cluster);
        if (observer === null || etcdDown) {
          observer = new Observer(now);
          if (etcdDown) log.info('etcd reachable again; observing before judging failures');
          etcdDown = false;
        }
        const spec = snap.spec ?? defaultSpec(config.cluster);
        const observed = observer.observe(snap, now);
        const d = decide(spec, observed, snap.view, now);
        if (d.reason !== lastReason) {
          log.info({ generation: d.view?.generation }, d.reason);
          lastReason = d.reason;
        }
        if (d.view !== null && d.view !== snap.view) {
          const consume = d.actions.find((a) => a.kind === 'consume-command');
          const ok = await l.writeView(d.view as ClusterView, snap.viewRevision, consume?.kind === 'consume-command' ? consume.id : undefined);
          if (!ok) {
            log.warn('view write lost a race (stale revision or leadership lost); re-reading');
            continue;
          }
          for (const a of d.actions) {
            if (a.kind === 'event') {
              await store.appendEvent(config.cluster, { at: now, source: `coordinator:${config.id}`, level: a.level, message: a.message }).catch((e: unknown) => log.warn({ err: errorMessage(e) }, 'could not record event'));
            }
          }
        }
      } catch (e) {
        if (e instanceof StoreUnavailableError) {
          if (!etcdDown) log.warn({ err: e.message }, 'etcd unreachable; making no decisions until it is back');
          etcdDown = true;
        } else {
          log.error({ err: errorMessage(e) }, 'coordinator pass failed');
        }
      }
      await sleep(TICK_MS);
    }
  };

  const done = (async () => {
    leadership = store.campaign(config.cluster, config.id, 2);
    while (!stopped) {
      try {
        await leadership.waitUntilLeader();
      } catch (e) {
        if (stopped) break;
        log.warn({ err: errorMessage(e) }, 'campaign failed; retrying');
        await sleep(500);
        continue;
      }
      if (stopped) break;
      log.info('became leader');
      await runTerm(leadership);
      if (!stopped) log.warn('leadership lost');
    }
  })();

  return {
    done,
    async stop() {
      stopped = true;
      await scheduler?.stop();
      await leadership?.resign().catch(() => undefined);
      await store.close().catch(() => undefined);
      await done.catch(() => undefined);
    },
  };
}
