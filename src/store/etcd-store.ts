// Store on etcd v3 (etcd3 npm client, gRPC).
// Every call carries a deadline (default 1000 ms) and the client's cockatiel retry/circuit
// breaker policies are replaced by no-ops, so a down etcd surfaces as StoreUnavailableError
// within about one deadline. Leases are kept alive by our own one-shot keep-alives
// (etcd-lease.ts), not by etcd3's Lease class, so their deadlines are ours too.
import { noop } from 'cockatiel';
import {
  CompareResult,
  CompareTarget,
  Etcd3,
  SortOrder,
  SortTarget,
  type IKeyValue,
  type ITxnRequest,
} from 'etcd3';
import { clusterPrefix, keys } from '../domain/keys.js';
import { BallastError, StoreUnavailableError, errorMessage } from '../domain/errors.js';
import { withSpecDefaults, type BackupRuns, type ClusterEvent, type ClusterSpec, type ClusterView, type Command, type MemberName, type MemberStatus } from '../domain/types.js';
import type { RouterStatus } from '../domain/router-status.js';
import type { ClusterSnapshot, Leadership, MemberSession, RouterSession, Store } from './store.js';
import { enc, type CallOptions, type EtcdCalls } from './etcd-calls.js';
import { EtcdLeadership, EtcdMemberSession } from './etcd-lease.js';


const EVENTS_KEEP = 1000;
const EVENTS_TRIM_EVERY = 50;

/** First key after every key starting with `prefix`. */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix, 'utf8');
  b[b.length - 1] = (b[b.length - 1] ?? 0) + 1;
  return b;
}

function parseJson<T>(kv: IKeyValue | undefined): T | null {
  if (kv === undefined) return null;
  try {
    return JSON.parse(kv.value.toString('utf8')) as T;
  } catch {
    return null;
  }
}

export function leaderKey(cluster: string): string {
  return `${keys.election(cluster)}/leader`;
}

export function createEtcdStore(endpoints: string[], opts?: { callTimeoutMs?: number }): Store {
  return new EtcdStore(endpoints, opts?.callTimeoutMs ?? 1000);
}

class EtcdStore implements Store, EtcdCalls {
  readonly client: Etcd3;
  private closed = false;
  private appends = 0;
  private lastEventMs = 0;
  private readonly sessions = new Set<EtcdMemberSession<MemberStatus> | EtcdMemberSession<RouterStatus>>();
  private readonly leaderships = new Set<EtcdLeadership>();
  /** Command id and mod revision seen by the last readCluster, for consume-in-txn. */
  private readonly seenCommands = new Map<string, { id: string; modRevision: string }>();

  constructor(
    endpoints: string[],
    readonly callTimeoutMs: number,
  ) {
    this.client = new Etcd3({
      hosts: endpoints,
      faultHandling: { host: () => noop, global: noop },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
      grpcOptions: {
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      },
    });
  }

  /** Run one etcd call with a deadline; any failure becomes StoreUnavailableError with cause. */
  async call<T>(what: string, fn: (o: CallOptions) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError(`while ${what}: store is closed`);
    const ms = this.callTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const op = fn({ deadline: Date.now() + ms });
    // Belt and braces: gRPC honours the deadline, but never wait much past it.
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms + 250} ms`)), ms + 250);
    });
    try {
      return await Promise.race([op, guard]);
    } catch (e) {
      op.catch(() => undefined);
      throw new StoreUnavailableError(`while ${what}: ${errorMessage(e)}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }

  txn(what: string, req: ITxnRequest) {
    return this.call(what, (o) => this.client.kv.txn(req, o));
  }

  async readCluster(cluster: string): Promise<ClusterSnapshot> {
    const prefix = clusterPrefix(cluster);
    const events = keys.eventsPrefix(cluster);
    // One request, one revision: the cluster prefix minus events/, as two ranges of one txn.
    const res = await this.txn(`reading cluster ${cluster}`, {
      compare: [],
      success: [
        { request_range: { key: enc(prefix), range_end: enc(events) } },
        { request_range: { key: prefixEnd(events), range_end: prefixEnd(prefix) } },
      ],
      failure: [],
    });
    const kvs = res.responses.flatMap((r) => r.response_range?.kvs ?? []);
    const byKey = new Map(kvs.map((kv) => [kv.key.toString('utf8'), kv]));
    const viewKv = byKey.get(keys.view(cluster));
    const commandKv = byKey.get(keys.command(cluster));
    const command = parseJson<Command>(commandKv);
    if (command !== null && commandKv !== undefined) {
      this.seenCommands.set(cluster, { id: command.id, modRevision: commandKv.mod_revision });
    } else {
      this.seenCommands.delete(cluster);
    }
    const membersPrefix = keys.membersPrefix(cluster);
    const members: MemberStatus[] = [];
    for (const kv of kvs) {
      if (!kv.key.toString('utf8').startsWith(membersPrefix)) continue;
      const m = parseJson<MemberStatus>(kv);
      if (m !== null) members.push(m);
    }
    const routersPrefix = keys.routersPrefix(cluster);
    const routers: RouterStatus[] = [];
    for (const kv of kvs) {
      if (!kv.key.toString('utf8').startsWith(routersPrefix)) continue;
      const r = parseJson<RouterStatus>(kv);
      if (r !== null) routers.push(r);
    }
    const leaderKv = byKey.get(leaderKey(cluster));
    return {
      spec: parseSpec(byKey.get(keys.spec(cluster))),
      view: parseJson<ClusterView>(viewKv),
      viewRevision: viewKv?.mod_revision ?? '0',
      command,
      members,
      coordinatorLeader: leaderKv === undefined ? null : leaderKv.value.toString('utf8'),
      routers,
    };
  }

  /** Mod revision of the command with this id, from the last read (or a fresh one). */
  async commandRevision(cluster: string, id: string): Promise<string | null> {
    const seen = this.seenCommands.get(cluster);
    if (seen?.id === id) return seen.modRevision;
    const res = await this.call('reading command', (o) => this.client.kv.range({ key: enc(keys.command(cluster)) }, o));
    const kv = res.kvs[0];
    return parseJson<Command>(kv)?.id === id && kv !== undefined ? kv.mod_revision : null;
  }

  async ensureSpec(cluster: string, spec: ClusterSpec): Promise<ClusterSpec> {
    const key = enc(keys.spec(cluster));
    const res = await this.txn(`ensuring spec of ${cluster}`, {
      compare: [{ key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
      success: [{ request_put: { key, value: enc(JSON.stringify(spec)) } }],
      failure: [{ request_range: { key } }],
    });
    if (res.succeeded) return spec;
    const stored = parseSpec(res.responses[0]?.response_range?.kvs[0]);
    if (stored === null) throw new BallastError('INTERNAL', `stored spec of ${cluster} is not valid JSON`);
    return stored;
  }

  async putSpec(cluster: string, spec: ClusterSpec): Promise<void> {
    const req = { key: enc(keys.spec(cluster)), value: enc(JSON.stringify(spec)) };
    await this.call(`writing spec of ${cluster}`, (o) => this.client.kv.put(req, o));
  }

  async putCommand(cluster: string, command: Command): Promise<void> {
    const req = { key: enc(keys.command(cluster)), value: enc(JSON.stringify(command)) };
    await this.call(`writing command of ${cluster}`, (o) => this.client.kv.put(req, o));
  }

  async appendEvent(cluster: string, event: ClusterEvent): Promise<void> {
    const suffix = Math.floor(Math.random() * 0x1000000).toString(16).padStart(6, '0');
    // Strictly increasing per store, so events appended here keep their order within a ms.
    const ms = Math.max(Date.now(), this.lastEventMs + 1);
    this.lastEventMs = ms;
    const key = `${keys.eventsPrefix(cluster)}${String(ms).padStart(13, '0')}-${suffix}`;
    const req = { key: enc(key), value: enc(JSON.stringify(event)) };
    await this.call(`appending event to ${cluster}`, (o) => this.client.kv.put(req, o));
    this.appends += 1;
    if (this.appends % EVENTS_TRIM_EVERY === 0) await this.trimEvents(cluster);
  }

  private async trimEvents(cluster: string): Promise<void> {
    const prefix = keys.eventsPrefix(cluster);
    const res = await this.call(`listing events of ${cluster}`, (o) =>
      this.client.kv.range({ key: enc(prefix), range_end: prefixEnd(prefix), keys_only: true }, o),
    );
    const excess = res.kvs.length - EVENTS_KEEP;
    const firstKept = res.kvs[excess]?.key;
    if (excess <= 0 || firstKept === undefined) return;
    await this.call(`trimming events of ${cluster}`, (o) =>
      this.client.kv.deleteRange({ key: enc(prefix), range_end: firstKept }, o),
    );
  }

  async listEvents(cluster: string, limit: number): Promise<ClusterEvent[]> {
    if (limit <= 0) return [];
    const prefix = keys.eventsPrefix(cluster);
    const res = await this.call(`listing events of ${cluster}`, (o) =>
      this.client.kv.range(
        { key: enc(prefix), range_end: prefixEnd(prefix), sort_order: SortOrder.Descend, sort_target: SortTarget.Key, limit },
        o,
      ),
    );
    const out: ClusterEvent[] = [];
    for (const kv of res.kvs) {
      const e = parseJson<ClusterEvent>(kv);
      if (e !== null) out.push(e);
    }
    return out.reverse();
  }

  async readBackupRuns(cluster: string): Promise<{ runs: BackupRuns | null; revision: string }> {
    const res = await this.call(`reading backup runs of ${cluster}`, (o) => this.client.kv.range({ key: enc(keys.backupsLast(cluster)) }, o));
    const kv = res.kvs[0];
    return { runs: parseJson<BackupRuns>(kv), revision: kv?.mod_revision ?? '0' };
  }

  async writeBackupRun(cluster: string, runs: BackupRuns, expectedRevision: string): Promise<string | null> {
    const key = enc(keys.backupsLast(cluster));
    const res = await this.txn(`writing backup runs of ${cluster}`, {
      // A missing key compares as mod revision 0, so '0' means "must not exist".
      compare: [{ key, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: expectedRevision }],
      success: [{ request_put: { key, value: enc(JSON.stringify(runs)) } }],
      failure: [],
    });
    return res.succeeded ? res.header.revision : null;
  }

  async openMemberSession(cluster: string, name: MemberName, ttlSec: number): Promise<MemberSession> {
    const s = new EtcdMemberSession(this, keys.member(cluster, name), ttlSec, () => this.sessions.delete(s));
    await s.start(); // grants the first lease now (throws StoreUnavailableError if etcd is down)
    this.sessions.add(s);
    return s;
  }

  async openRouterSession(cluster: string, id: string, ttlSec: number): Promise<RouterSession> {
    const s: EtcdMemberSession<RouterStatus> = new EtcdMemberSession<RouterStatus>(this, keys.router(cluster, id), ttlSec, () => this.sessions.delete(s));
    await s.start();
    this.sessions.add(s);
    return s;
  }

  campaign(cluster: string, candidateId: string, ttlSec: number): Leadership {
    const l = new EtcdLeadership(this, cluster, leaderKey(cluster), candidateId, ttlSec, () => this.leaderships.delete(l));
    this.leaderships.add(l);
    return l;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const owned = [...this.sessions].map((s) => s.close()).concat([...this.leaderships].map((l) => l.resign()));
    await Promise.allSettled(owned);
    this.closed = true;
    this.client.close();
  }
}


/** A stored spec, with the timings an older version did not write filled with their defaults. */
function parseSpec(kv: IKeyValue | undefined): ClusterSpec | null {
  const spec = parseJson<ClusterSpec>(kv);
  return spec === null ? null : withSpecDefaults(spec);
}
