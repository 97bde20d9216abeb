// Faults, by name: each one injects itself against the deployment, holds, and heals; the
// harness records when. Targets are chosen from the observer's latest sample (primary,
// synchronous standby, leader), so a schedule means the same thing whoever leads.
// Processes are only ever signalled by verified pid; network faults are nftables cuts in the
// run's own namespaces; "disk full" fills the primary's tmpfs with a file, removed on heal.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../domain/errors.js';
import { sleep } from '../local/proc.js';
import { BALLAST_BIN } from '../local/supervisor.js';
import { BACKUP_HOST, BACKUP_SERVER_KEY, CLIENT_HOST, CLUSTER, ETCD_HOSTS, PG_HOSTS, ROUTER_HOST, coordinatorOfHost, hostOfMember, type Deployment } from './deploy.js';
import type { ObserveSample } from './history.js';
import { applyCuts, isolationCuts, oneWayCuts, partitionCuts, run, type Cut } from './netns.js';
import type { Rng } from './prng.js';

export const FAULT_NAMES = [
  'kill-agent', 'kill-postgres', 'kill-coordinator', 'kill-etcd', 'kill-pgbouncer', 'kill-haproxy',
  'freeze-primary', 'isolate-primary', 'isolate-sync', 'isolate-async', 'isolate-etcd', 'one-way-primary',
  'partial-partition', 'etcd-quorum-loss', 'disk-full-primary', 'switchover', 'kill-leader-during-failover',
  'backup-repo-down', 'unsafe-promotion',
] as const;
/** Faults that break the invariants on purpose (to show the checker catches it): never in random schedules. */
export const UNSAFE_FAULTS: readonly FaultName[] = ['unsafe-promotion'];
export type FaultName = (typeof FAULT_NAMES)[number];

export interface FaultStep {
  fault: FaultName;
  /** How long the fault holds before it is healed (kills: delay before a harness restart). */
  holdMs: number;
}

export interface Injected {
  target: string;
  notes: string[];
  /** When the fault took effect, if not when injectFault returned (a switchover: when it began). */
  effectiveAt?: number;
  /** Undo the fault (null: nothing to undo). */
  heal: (() => Promise<void>) | null;
}

type Healthy = Extract<ObserveSample, { ok: true }>;

export class FaultContext {
  private cuts = new Map<string, Cut[]>();
  private nextCut = 1;

  constructor(readonly dep: Deployment, readonly log: (l: string) => void) {}

  latest(): ObserveSample | null {
    try {
      return JSON.parse(readFileSync(join(this.dep.dir, 'observe-latest.json'), 'utf8')) as ObserveSample;
    } catch {
      return null;
    }
  }

  /** The latest sample that had a view (failing if the observer has seen none recently). */
  view(): Healthy {
    const s = this.latest();
    if (!s || !s.ok || s.primary === null) throw new Error(`no cluster view to target a fault at (${s && !s.ok ? s.error : 'no sample'})`);
    return s;
  }

  primary(): string {
    return this.view().primary as string;
  }

  standby(kind: 'sync' | 'async'): string {
    const v = this.view();
    const roles = Object.entries(v.roles);
    const found = roles.find(([, r]) => r === kind)?.[0] ?? (kind === 'sync' ? v.syncStandbys[0] : roles.find(([n]) => n !== v.primary && !v.syncStandbys.includes(n))?.[0]);
    if (!found) throw new Error(`no ${kind} standby right now`);
    return found;
  }

  async addCuts(cuts: Cut[]): Promise<number> {
    const id = this.nextCut++;
    this.cuts.set(String(id), cuts);
    await applyCuts(this.dep.net, [...this.cuts.values()].flat());
    return id;
  }

  async removeCuts(id: number): Promise<void> {
    this.cuts.delete(String(id));
    await applyCuts(this.dep.net, [...this.cuts.values()].flat());
  }

  async clearCuts(): Promise<void> {
    this.cuts.clear();
    await applyCuts(this.dep.net, []);
  }

  /** kill -9 one harness-started process and keep it down until restart(); returns its pid. */
  kill9(key: string): number | null {
    this.dep.hold(key);
    const r = this.dep.ref(key);
    if (!r) return null;
    this.dep.signal(key, 'SIGKILL');
    return r.pid;
  }

  /** The heal of a kill: start the process again. */
  restart(key: string): () => Promise<void> {
    return async () => this.dep.release(key);
  }
}

const allHosts = (): string[] => [...ETCD_HOSTS, ...PG_HOSTS, ROUTER_HOST, CLIENT_HOST, BACKUP_HOST];

function signalPids(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

async function isolate(ctx: FaultContext, host: string, what: string): Promise<Injected> {
  const id = await ctx.addCuts(isolationCuts(host, allHosts()));
  return { target: `host ${host} (${what})`, notes: [], heal: () => ctx.removeCuts(id) };
}

/** Write `path` until the filesystem has no byte left (1 MiB, then 4 KiB, then 512 B blocks); returns its size. */
export function fillFilesystem(path: string): number {
  const fd = openSync(path, 'wx', 0o600);
  let total = 0;
  try {
    for (const size of [1 << 20, 4096, 512]) {
      const buf = Buffer.alloc(size);
      for (;;) {
        try {
          const n = writeSync(fd, buf);
          total += n;
          if (n < size) break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } catch (e) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw e;
  }
  closeSync(fd);
  return total;
}

/** Inject one fault. `heal` (if any) is called by the harness after holdMs. */
export async function injectFault(ctx: FaultContext, step: FaultStep, rng: Rng): Promise<Injected> {
  const { dep } = ctx;
  switch (step.fault) {
    case 'kill-agent': {
      const m = rng.pick([ctx.primary(), ctx.primary(), ctx.standby('sync')]);
      const pid = ctx.kill9(`agent ${m}`);
      return { target: `agent ${m} (pid ${pid})`, notes: [], heal: ctx.restart(`agent ${m}`) };
    }
    case 'kill-postgres': {
      const m = ctx.primary();
      const pm = dep.postmaster(m);
      if (pm) signalPids([pm.pid], 'SIGKILL');
      return { target: `postgres ${m} (primary, postmaster pid ${pm?.pid ?? 'none'}); its agent restarts it`, notes: [], heal: null };
    }
    case 'kill-coordinator': {
      const leader = ctx.view().leader;
      const id = leader && /^co\d$/.test(leader) ? leader : rng.pick(PG_HOSTS.map(coordinatorOfHost));
      const pid = ctx.kill9(`coordinator ${id}`);
      return { target: `coordinator ${id}${id === leader ? ' (leader)' : ''} (pid ${pid})`, notes: [], heal: ctx.restart(`coordinator ${id}`) };
    }
    case 'kill-etcd': {
      const h = rng.pick(ETCD_HOSTS);
      const pid = ctx.kill9(`etcd ${h}`);
      return { target: `etcd ${h} (pid ${pid})`, notes: [], heal: ctx.restart(`etcd ${h}`) };
    }
    case 'kill-pgbouncer':
    case 'kill-haproxy': {
      const pids = await dep.routingPids();
      const pid = step.fault === 'kill-haproxy' ? pids.haproxy : pids.poolers[0] ?? null;
      if (pid !== null) signalPids([pid], 'SIGKILL');
      return { target: `${step.fault === 'kill-haproxy' ? 'haproxy' : 'pgbouncer'} (pid ${pid ?? 'none'}); the router restarts it`, notes: [], heal: null };
    }
    case 'freeze-primary': {
      const m = ctx.primary();
      const pids = dep.hostPids(m);
      signalPids(pids, 'SIGSTOP');
      return { target: `agent + postgres of ${m} (primary), ${pids.length} processes`, notes: [], heal: async () => signalPids(pids, 'SIGCONT') };
    }
    case 'isolate-primary': {
      const m = ctx.primary();
      return isolate(ctx, hostOfMember(m), `primary ${m}`);
    }
    case 'isolate-sync': {
      const m = ctx.standby('sync');
      return isolate(ctx, hostOfMember(m), `sync standby ${m}`);
    }
    case 'isolate-async': {
      const m = ctx.standby('async');
      return isolate(ctx, hostOfMember(m), `async standby ${m}`);
    }
    case 'isolate-etcd':
      return isolate(ctx, rng.pick(ETCD_HOSTS), 'one etcd member');
    case 'one-way-primary': {
      const m = ctx.primary();
      const h = hostOfMember(m);
      const id = await ctx.addCuts(oneWayCuts(h, allHosts()));
      return { target: `everything host ${h} (primary ${m}) sends is lost; it still receives`, notes: [], heal: () => ctx.removeCuts(id) };
    }
    case 'partial-partition': {
      const a = hostOfMember(ctx.primary());
      const c = hostOfMember(ctx.standby('sync'));
      const b = PG_HOSTS.find((h) => h !== a && h !== c) ?? '?';
      const id = await ctx.addCuts(partitionCuts(a, c));
      return { target: `A=${a} (primary) and C=${c} (sync) cannot reach each other; B=${b} reaches both`, notes: [], heal: () => ctx.removeCuts(id) };
    }
    case 'etcd-quorum-loss': {
      const [keep, ...lose] = [...ETCD_HOSTS].sort(() => rng.next() - 0.5);
      const id = await ctx.addCuts(isolationCuts(lose, allHosts()));
      return { target: `etcd hosts ${lose.join(', ')} isolated (only ${keep} reachable: no quorum)`, notes: [], heal: () => ctx.removeCuts(id) };
    }
    case 'disk-full-primary': {
      const m = ctx.primary();
      const filler = join(dep.memberDir(m), 'chaos-disk-filler');
      const bytes = fillFilesystem(filler);
      return { target: `filesystem of ${m} (primary): filled up with ${Math.round(bytes / 1048576)} MiB`, notes: [], heal: async () => rmSync(filler, { force: true }) };
    }
    case 'backup-repo-down': {
      const id = await ctx.addCuts(isolationCuts(BACKUP_HOST, allHosts()));
      return { target: `the backup host ${BACKUP_HOST} (its pgBackRest TLS server and repository) cut off from every host`, notes: [], heal: () => ctx.removeCuts(id) };
    }
    case 'switchover': {
      const from = ctx.primary();
      const effectiveAt = Date.now();
      const t0 = performance.now();
      let note: string;
      try {
        const out = await run('/usr/sbin/ip', ['netns', 'exec', dep.host(CLIENT_HOST).ns, process.execPath, BALLAST_BIN, 'switchover', '--etcd', dep.etcdEndpoints.join(','), '--cluster', CLUSTER, '--json'], undefined, 90_000);
        note = `switchover from ${from} done in ${Math.round(performance.now() - t0)} ms: ${out.replace(/\s+/g, ' ').slice(0, 300)}`;
      } catch (e) {
        note = `switchover from ${from} failed after ${Math.round(performance.now() - t0)} ms: ${errorMessage(e).slice(0, 300)}`;
      }
      return { target: `planned switchover away from ${from}`, notes: [note], heal: null, effectiveAt };
    }
    case 'unsafe-promotion': {
      // Deliberately unsafe, to prove the checker fails a run that loses writes: the async
      // standby is cut off so it falls behind while writes are acknowledged (the primary and its
      // sync standby have them), then the primary and the sync standby are cut off together (so
      // the coordinator has no member it may promote on its own), the async standby comes back
      // and an operator forces its promotion with --accept-data-loss.
      const a = ctx.standby('async');
      const sync = ctx.standby('sync');
      const p = ctx.primary();
      // The backup host would let the standby catch up through restore_command once its own cut
      // is lifted: its pgBackRest server stays down until the heal, so the standby really falls
      // behind. Down (refused), not cut off: a blackholed repository makes every archive-get hang
      // until its timeout, and the promotion would wait behind them (docs/backups.md).
      dep.stopBackupServer();
      const idA = await ctx.addCuts(isolationCuts(hostOfMember(a), allHosts()));
      await sleep(Math.max(2000, step.holdMs / 2));
      const idP = await ctx.addCuts(isolationCuts([hostOfMember(p), hostOfMember(sync)], allHosts()));
      const effectiveAt = Date.now();
      await ctx.removeCuts(idA);
      await sleep(3000);
      let note: string;
      try {
        const out = await run('/usr/sbin/ip', ['netns', 'exec', dep.host(CLIENT_HOST).ns, process.execPath, BALLAST_BIN, 'failover', '--etcd', dep.etcdEndpoints.join(','), '--cluster', CLUSTER, '--to', a, '--accept-data-loss', '--json'], undefined, 90_000);
        note = `forced failover to ${a}: ${out.replace(/\s+/g, ' ').slice(0, 300)}`;
      } catch (e) {
        note = `forced failover to ${a} failed: ${errorMessage(e).slice(0, 300)}`;
      }
      return {
        target: `async standby ${a} cut off and left behind (the backup host's server down too), primary ${p} and sync standby ${sync} cut off, ${a} promoted with --accept-data-loss (UNSAFE on purpose)`,
        notes: [note], effectiveAt,
        heal: async () => {
          await ctx.removeCuts(idP);
          dep.release(BACKUP_SERVER_KEY);
        },
      };
    }
    case 'kill-leader-during-failover': {
      const m = ctx.primary();
      const h = hostOfMember(m);
      const id = await ctx.addCuts(isolationCuts(h, allHosts()));
      const effectiveAt = Date.now();
      // Wait until a leader outside the isolated host is deciding (the failover), then kill it.
      const notes: string[] = [];
      const end = performance.now() + 5000;
      let leader: string | null = null;
      await sleep(600);
      while (performance.now() < end) {
        const s = ctx.latest();
        if (s?.ok && s.leader && s.leader !== coordinatorOfHost(h)) {
          leader = s.leader;
          break;
        }
        await sleep(100);
      }
      if (leader) {
        const pid = ctx.kill9(`coordinator ${leader}`);
        notes.push(`killed leader ${leader} (pid ${pid}) ${Math.round(performance.now() - end + 5000)} ms after isolating ${h}`);
      } else notes.push('no leader outside the isolated host within 5 s; none killed');
      const restart = leader ? ctx.restart(`coordinator ${leader}`) : null;
      return {
        target: `host ${h} (primary ${m}) isolated, then the coordinator leader killed`,
        notes,
        effectiveAt,
        heal: async () => {
          await ctx.removeCuts(id);
          await restart?.();
        },
      };
    }
  }
}

/** A random schedule of `count` faults (seeded: the same seed, the same schedule). */
export function randomSchedule(rng: Rng, count: number): FaultStep[] {
  // The slow ones (quorum loss, a failover with its leader killed) half as often as the rest.
  const common = FAULT_NAMES.filter((f) => f !== 'etcd-quorum-loss' && f !== 'kill-leader-during-failover' && !UNSAFE_FAULTS.includes(f));
  const menu: FaultName[] = [...common, ...common, 'etcd-quorum-loss', 'kill-leader-during-failover'];
  return Array.from({ length: count }, () => {
    const fault = rng.pick(menu);
    return { fault, holdMs: rng.int(2, 12) * 1000 };
  });
}
