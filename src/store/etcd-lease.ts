// Leases of the etcd store: agent status sessions and coordinator leadership, both kept alive by
// our own one-shot keep-alives (LeaseKeeper) so their deadlines are ours, not etcd3's.
import {
  CompareResult,
  CompareTarget,
  EtcdLeaseInvalidError,
  type ILeaseKeepAliveResponse,
  type IRequestOp,
} from 'etcd3';
import { keys } from '../domain/keys.js';
import { BallastError, StoreUnavailableError } from '../domain/errors.js';
import type { ClusterView, MemberStatus } from '../domain/types.js';
import type { Leadership, MemberSession } from './store.js';
import { enc, type EtcdCalls } from './etcd-calls.js';

/**
 * Agent status under a lease; a lost lease is replaced by a new one on the next publish.
 * Also carries router status (T = RouterStatus): the same lease discipline for any status key.
 */
export class EtcdMemberSession<T = MemberStatus> implements Omit<MemberSession, 'publish'> {
  private keeper: LeaseKeeper | null = null;
  private granting: Promise<LeaseKeeper> | null = null;
  private okAt = performance.now();
  private closed = false;

  constructor(
    private readonly store: EtcdCalls,
    private readonly key: string,
    private readonly ttlSec: number,
    private readonly onClosed: () => void,
  ) {}

  lastOkAt(): number {
    return this.okAt;
  }

  async start(): Promise<void> {
    await this.lease();
  }

  private lease(): Promise<LeaseKeeper> {
    if (this.keeper !== null && this.keeper.isValid()) return Promise.resolve(this.keeper);
    if (this.granting === null) {
      const old = this.keeper;
      this.keeper = null;
      if (old !== null) void old.revoke(); // best effort: it may still exist on the server
      this.granting = LeaseKeeper.grant(this.store, this.ttlSec, `member ${this.key}`, {
        onOk: (at) => (this.okAt = Math.max(this.okAt, at)),
        onLost: () => undefined,
      })
        .then((k) => {
          this.okAt = Math.max(this.okAt, performance.now());
          if (this.closed) {
            void k.revoke();
          } else {
            this.keeper = k;
          }
          return k;
        })
        .finally(() => {
          this.granting = null;
        });
    }
    return this.granting;
  }

  async publish(status: T): Promise<void> {
    if (this.closed) throw new StoreUnavailableError(`while publishing ${this.key}: session is closed`);
    const value = enc(JSON.stringify(status));
    for (let attempt = 0; ; attempt++) {
      const k = await this.lease();
      try {
        await this.store.call(`publishing ${this.key}`, (o) =>
          this.store.client.kv.put({ key: enc(this.key), value, lease: k.id }, o),
        );
        this.okAt = performance.now();
        return;
      } catch (e) {
        // The server forgot our lease (expired while we were away): one fresh lease, no spinning.
        if (!(e instanceof StoreUnavailableError && e.cause instanceof EtcdLeaseInvalidError) || attempt > 0) throw e;
        k.markLost('etcd says the lease is not found');
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClosed();
    const k = this.keeper ?? (this.granting === null ? null : await this.granting.catch(() => null));
    this.keeper = null;
    try {
      await this.store.call(`deleting ${this.key}`, (o) => this.store.client.kv.deleteRange({ key: enc(this.key) }, o));
    } finally {
      if (k !== null) await k.revoke();
    }
  }
}

/** One keep-alive over a short-lived stream; false when etcd says the lease is gone. */
async function keepAliveOnce(store: EtcdCalls, id: string): Promise<boolean> {
  return store.call(`keeping lease ${id} alive`, async (o) => {
    const stream = await store.client.leaseClient.leaseKeepAlive(o);
    return new Promise<boolean>((resolve, reject) => {
      stream.on('data', (res: ILeaseKeepAliveResponse) => {
        resolve(res.TTL !== '0');
        stream.end();
      });
      stream.on('error', (err: unknown) => reject(err));
      stream.write({ ID: id });
    });
  });
}

async function revokeLease(store: EtcdCalls, id: string): Promise<void> {
  try {
    await store.call(`revoking lease ${id}`, (o) => store.client.leaseClient.leaseRevoke({ ID: id }, o));
  } catch {
    // best effort: an unrevoked lease expires after its TTL anyway
  }
}

interface KeeperHooks {
  onOk(at: number): void;
  onLost(reason: string): void;
}

/**
 * A granted lease plus our own keep-alive loop (every TTL/3). The lease counts as valid until
 * TTL after the *sending* of the last acknowledged keep-alive, which is never later than the
 * server's own expiry, so isValid() can be trusted by a leader.
 */
class LeaseKeeper {
  private lost = false;
  private inflight = false;
  private validUntil: number;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly store: EtcdCalls,
    readonly id: string,
    readonly ttlMs: number,
    sentAt: number,
    private readonly hooks: KeeperHooks,
  ) {
    this.validUntil = sentAt + ttlMs;
    this.timer = setInterval(() => void this.tick(), Math.max(100, Math.floor(ttlMs / 3)));
    this.timer.unref();
  }

  static async grant(store: EtcdCalls, ttlSec: number, what: string, hooks: KeeperHooks): Promise<LeaseKeeper> {
    const sentAt = performance.now();
    const res = await store.call(`granting a lease for ${what}`, (o) =>
      store.client.leaseClient.leaseGrant({ TTL: ttlSec }, o),
    );
    const ttl = Number(res.TTL) > 0 ? Number(res.TTL) : ttlSec;
    return new LeaseKeeper(store, res.ID, ttl * 1000, sentAt, hooks);
  }

  isValid(): boolean {
    return !this.lost && performance.now() < this.validUntil;
  }

  markLost(reason: string): void {
    if (this.lost) return;
    this.lost = true;
    clearInterval(this.timer);
    this.hooks.onLost(reason);
  }

  /** Stop keeping alive and revoke on the server (best effort, never rejects). */
  async revoke(): Promise<void> {
    this.markLost('revoked');
    await revokeLease(this.store, this.id);
  }

  private async tick(): Promise<void> {
    if (this.lost || this.inflight) return;
    if (performance.now() >= this.validUntil) {
      this.markLost(`no keep-alive acknowledged for ${this.ttlMs} ms`);
      return;
    }
    this.inflight = true;
    const sentAt = performance.now();
    try {
      if (await keepAliveOnce(this.store, this.id)) {
        this.validUntil = Math.max(this.validUntil, sentAt + this.ttlMs);
        this.hooks.onOk(performance.now());
      } else {
        this.markLost('etcd says the lease expired');
      }
    } catch {
      if (performance.now() >= this.validUntil) this.markLost(`no keep-alive acknowledged for ${this.ttlMs} ms`);
    } finally {
      this.inflight = false;
    }
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // nobody may be waiting
  return { promise, resolve, reject };
}

/**
 * Coordinator leadership: a plain key (value = candidate id) on the candidate's own lease,
 * created with create_revision == 0. States: campaigning -> leader -> (lost) -> campaigning,
 * until resign(). Each leader term resolves waitUntilLeader() once; onLost listeners persist
 * across terms and are called once per lost term.
 */
export class EtcdLeadership implements Leadership {
  private closed = false;
  private leader = false;
  private keeper: LeaseKeeper | null = null;
  private term = deferred();
  private readonly listeners: Array<() => void> = [];
  /** Our earlier leases: a leader key still on one of them is ours to clear. */
  private readonly pastLeases = new Set<string>();
  private wake: (() => void) | null = null;

  constructor(
    private readonly store: EtcdCalls,
    private readonly cluster: string,
    private readonly key: string,
    private readonly candidateId: string,
    private readonly ttlSec: number,
    private readonly onClosed: () => void,
  ) {
    void this.run();
  }

  isLeader(): boolean {
    return this.leader && this.keeper !== null && this.keeper.isValid();
  }

  waitUntilLeader(): Promise<void> {
    if (this.closed) return Promise.reject(new BallastError('INTERNAL', 'campaign was closed (resigned)'));
    this.checkValidity();
    return this.leader ? Promise.resolve() : this.term.promise;
  }

  onLost(listener: () => void): void {
    this.listeners.push(listener);
  }

  private checkValidity(): void {
    if (this.leader && !this.isLeader()) this.lose('lease no longer confirmed by etcd');
  }

  private lose(reason: string): void {
    const k = this.keeper;
    this.keeper = null;
    if (k !== null) {
      this.pastLeases.add(k.id);
      void k.revoke();
    }
    if (!this.leader) return;
    this.leader = false;
    this.lastLossReason = reason;
    this.term = deferred();
    for (const l of this.listeners) {
      try {
        l();
      } catch {
        // a listener's failure must not stop the others
      }
    }
  }
  /** Why the last term ended (for logs). */
  lastLossReason: string | null = null;

  private async ensureLease(): Promise<LeaseKeeper> {
    if (this.keeper !== null && this.keeper.isValid()) return this.keeper;
    if (this.keeper !== null) this.lose('lease expired');
    const k = await LeaseKeeper.grant(this.store, this.ttlSec, `coordinator ${this.candidateId}`, {
      onOk: () => undefined,
      onLost: (reason) => {
        if (this.keeper === k) this.lose(reason);
      },
    });
    if (this.closed) {
      await k.revoke();
      throw new BallastError('INTERNAL', 'campaign was closed (resigned)');
    }
    this.keeper = k;
    return k;
  }

  private async campaignOnce(): Promise<void> {
    const k = await this.ensureLease();
    const key = enc(this.key);
    const res = await this.store.txn(`campaigning for leadership of ${this.cluster}`, {
      compare: [{ key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
      success: [{ request_put: { key, value: enc(this.candidateId), lease: k.id } }],
      failure: [{ request_range: { key } }],
    });
    if (this.closed || this.keeper !== k) return;
    const kv = res.responses[0]?.response_range?.kvs[0];
    if (res.succeeded || (kv?.value.toString('utf8') === this.candidateId && kv.lease === k.id)) {
      this.leader = true;
      this.term.resolve();
    } else if (kv !== undefined && kv.value.toString('utf8') === this.candidateId && this.pastLeases.has(kv.lease)) {
      await revokeLease(this.store, kv.lease); // our own key from an earlier term
    }
  }

  private async confirmLeadership(): Promise<void> {
    const k = this.keeper;
    if (k === null) return;
    const res = await this.store.call(`checking leadership of ${this.cluster}`, (o) =>
      this.store.client.kv.range({ key: enc(this.key) }, o),
    );
    const kv = res.kvs[0];
    if (this.keeper !== k || !this.leader) return;
    if (kv === undefined) this.lose('leader key was deleted');
    else if (kv.value.toString('utf8') !== this.candidateId || kv.lease !== k.id) this.lose('leader key is held by another');
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        this.checkValidity();
        if (this.leader) await this.confirmLeadership();
        else await this.campaignOnce();
      } catch {
        // etcd unavailable: the lease keeper decides when leadership is gone
      }
      this.checkValidity();
      const pauseMs = this.leader ? Math.min(500, (this.ttlSec * 1000) / 4) : 200;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pauseMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  async writeView(view: ClusterView, expectedRevision: string, consumeCommandId?: string): Promise<boolean> {
    const k = this.keeper;
    if (!this.isLeader() || k === null) return false;
    const key = enc(this.key);
    const viewKey = enc(keys.view(this.cluster));
    const ops: IRequestOp[] = [{ request_put: { key: viewKey, value: enc(JSON.stringify(view)) } }];
    if (consumeCommandId !== undefined) {
      const rev = await this.store.commandRevision(this.cluster, consumeCommandId);
      const cmdKey = enc(keys.command(this.cluster));
      if (rev !== null) {
        ops.push({
          request_txn: {
            compare: [{ key: cmdKey, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: rev }],
            success: [{ request_delete_range: { key: cmdKey } }],
            failure: [],
          },
        });
      }
    }
    const res = await this.store.txn(`writing view of ${this.cluster}`, {
      compare: [
        { key, target: CompareTarget.Value, result: CompareResult.Equal, value: enc(this.candidateId) },
        { key, target: CompareTarget.Lease, result: CompareResult.Equal, lease: k.id },
        { key: viewKey, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: expectedRevision },
      ],
      success: ops,
      failure: [{ request_range: { key } }],
    });
    if (!res.succeeded && this.keeper === k) {
      const kv = res.responses[0]?.response_range?.kvs[0];
      if (kv === undefined || kv.value.toString('utf8') !== this.candidateId || kv.lease !== k.id) {
        this.lose('leader key is gone or held by another');
      }
    }
    return res.succeeded;
  }

  async resign(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClosed();
    this.wake?.();
    this.term.reject(new BallastError('INTERNAL', 'campaign was closed (resigned)'));
    const k = this.keeper;
    this.keeper = null;
    if (k !== null) await k.revoke(); // revoking deletes the leader key if it is on our lease
    this.lose('resigned');
  }
}
