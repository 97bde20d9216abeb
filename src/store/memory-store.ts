// In-memory Store for unit tests: the etcd store's contract without I/O, deterministic.
// - Revisions are one counter per shared state, bumped on every write (like etcd's).
// - Several handles can share one state (`connect()`), like several processes on one etcd;
//   closing a handle releases only what it owns.
// - Nothing expires by itself. Tests drive failures explicitly: expireSession(),
//   expireLeadership(), setUnavailable(). Leadership is handed out in campaign order,
//   synchronously when the previous leader goes.
import { StoreUnavailableError, BallastError } from '../domain/errors.js';
import type { BackupRuns, ClusterEvent, ClusterSpec, ClusterView, Command, MemberName, MemberStatus } from '../domain/types.js';
import type { RouterStatus } from '../domain/router-status.js';
import type { ClusterSnapshot, Leadership, MemberSession, RouterSession, Store } from './store.js';

const EVENTS_KEEP = 1000;

interface Entry<T> {
  value: T;
  modRevision: number;
}

interface ClusterState {
  spec: Entry<ClusterSpec> | null;
  view: Entry<ClusterView> | null;
  command: Entry<Command> | null;
  members: Map<MemberName, Entry<MemberStatus> & { session: MemorySession; lease: number }>;
  events: ClusterEvent[];
  routers: Map<string, RouterStatus>;
  backupRuns: Entry<BackupRuns> | null;
  leader: MemoryLeadership | null;
  /** Campaigning, not leading, in order of arrival. */
  waiting: MemoryLeadership[];
}

class MemoryState {
  revision = 0;
  leaseSeq = 0;
  unavailable = false;
  readonly clusters = new Map<string, ClusterState>();

  constructor(readonly now: () => number) {}

  cluster(name: string): ClusterState {
    let c = this.clusters.get(name);
    if (c === undefined) {
      c = { spec: null, view: null, command: null, members: new Map(), events: [], routers: new Map(), backupRuns: null, leader: null, waiting: [] };
      this.clusters.set(name, c);
    }
    return c;
  }

  check(what: string): void {
    if (this.unavailable) throw new StoreUnavailableError(`while ${what}: store is unavailable (simulated)`);
  }

  entry<T>(value: T): Entry<T> {
    this.revision += 1;
    return { value: structuredClone(value), modRevision: this.revision };
  }

  /** Hand leadership to the first waiting candidate if nobody leads. */
  elect(cluster: string): void {
    const c = this.cluster(cluster);
    if (this.unavailable || c.leader !== null) return;
    const next = c.waiting.shift();
    if (next === undefined) return;
    c.leader = next;
    next.gain();
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
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export class MemoryStore implements Store {
  private closed = false;
  private readonly sessions = new Set<MemorySession>();
  private readonly leaderships = new Set<MemoryLeadership>();
  private readonly state: MemoryState;

  /** `now` is the clock behind lastOkAt() (default performance.now). */
  constructor(opts?: { now?: () => number; shareWith?: MemoryStore }) {
    this.state = opts?.shareWith?.state ?? new MemoryState(opts?.now ?? (() => performance.now()));
  }

  /** Another handle on the same data (another "process" on the same etcd). */
  connect(): MemoryStore {
    return new MemoryStore({ shareWith: this });
  }

  // ---- test controls ----

  /** Simulate an etcd outage: every call rejects with StoreUnavailableError; no elections. */
  setUnavailable(unavailable: boolean): void {
    this.state.unavailable = unavailable;
    if (!unavailable) for (const name of this.state.clusters.keys()) this.state.elect(name);
  }

  /** The member's lease expires: its key disappears; the session's next publish gets a new lease. */
  expireSession(cluster: string, name: MemberName): boolean {
    const m = this.state.cluster(cluster).members.get(name);
    if (m === undefined) return false;
    this.state.cluster(cluster).members.delete(name);
    m.session.leaseLost();
    this.state.revision += 1;
    return true;
  }

  /** The leader's lease expires: onLost fires, it campaigns again behind the other candidates. */
  expireLeadership(cluster: string): boolean {
    const c = this.state.cluster(cluster);
    const l = c.leader;
    if (l === null) return false;
    c.leader = null;
    this.state.revision += 1;
    l.loseTerm();
    c.waiting.push(l);
    this.state.elect(cluster);
    return true;
  }

  /** Lease id under which a member's status is stored (null if absent). */
  memberLease(cluster: string, name: MemberName): number | null {
    return this.state.cluster(cluster).members.get(name)?.lease ?? null;
  }

  /** Current revision counter. */
  revision(): number {
    return this.state.revision;
  }

  // ---- Store ----

  private check(what: string): void {
    if (this.closed) throw new StoreUnavailableError(`while ${what}: store is closed`);
    this.state.check(what);
  }

  async readCluster(cluster: string): Promise<ClusterSnapshot> {
    this.check(`reading cluster ${cluster}`);
    const c = this.state.cluster(cluster);
    const members = [...c.members.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return structuredClone({
      spec: c.spec?.value ?? null,
      view: c.view?.value ?? null,
      viewRevision: String(c.view?.modRevision ?? 0),
      command: c.command?.value ?? null,
      members: members.map(([, m]) => m.value),
      coordinatorLeader: c.leader?.candidateId ?? null,
      routers: [...c.routers.values()],
    });
  }

  async ensureSpec(cluster: string, spec: ClusterSpec): Promise<ClusterSpec> {
    this.check(`ensuring spec of ${cluster}`);
    const c = this.state.cluster(cluster);
    if (c.spec === null) c.spec = this.state.entry(spec);
    return structuredClone(c.spec.value);
  }

  async putSpec(cluster: string, spec: ClusterSpec): Promise<void> {
    this.check(`writing spec of ${cluster}`);
    this.state.cluster(cluster).spec = this.state.entry(spec);
  }

  async putCommand(cluster: string, command: Command): Promise<void> {
    this.check(`writing command of ${cluster}`);
    this.state.cluster(cluster).command = this.state.entry(command);
  }

  async appendEvent(cluster: string, event: ClusterEvent): Promise<void> {
    this.check(`appending event to ${cluster}`);
    const c = this.state.cluster(cluster);
    this.state.revision += 1;
    c.events.push(structuredClone(event));
    if (c.events.length > EVENTS_KEEP) c.events.splice(0, c.events.length - EVENTS_KEEP);
  }

  async listEvents(cluster: string, limit: number): Promise<ClusterEvent[]> {
    this.check(`listing events of ${cluster}`);
    if (limit <= 0) return [];
    return structuredClone(this.state.cluster(cluster).events.slice(-limit));
  }

  async readBackupRuns(cluster: string): Promise<{ runs: BackupRuns | null; revision: string }> {
    this.check(`reading backup runs of ${cluster}`);
    const e = this.state.cluster(cluster).backupRuns;
    return { runs: e === null ? null : structuredClone(e.value), revision: String(e?.modRevision ?? 0) };
  }

  async writeBackupRun(cluster: string, runs: BackupRuns, expectedRevision: string): Promise<string | null> {
    this.check(`writing backup runs of ${cluster}`);
    const c = this.state.cluster(cluster);
    if (String(c.backupRuns?.modRevision ?? 0) !== expectedRevision) return null;
    c.backupRuns = this.state.entry(runs);
    return String(c.backupRuns.modRevision);
  }

  async openMemberSession(cluster: string, name: MemberName, _ttlSec: number): Promise<MemberSession> {
    this.check(`opening session of ${name}`);
    const s = new MemorySession(this.state, cluster, name, () => this.sessions.delete(s));
    this.sessions.add(s);
    return s;
  }

  async openRouterSession(cluster: string, id: string, _ttlSec: number): Promise<RouterSession> {
    this.check(`opening router session ${id}`);
    const routers = this.state.cluster(cluster).routers;
    const state = this.state;
    let closed = false;
    return {
      async publish(status: RouterStatus): Promise<void> {
        if (closed) throw new StoreUnavailableError(`while publishing router ${id}: session is closed`);
        state.check(`publishing router ${id}`);
        state.revision += 1;
        routers.set(id, structuredClone(status));
      },
      async close(): Promise<void> {
        closed = true;
        routers.delete(id);
      },
    };
  }

  campaign(cluster: string, candidateId: string, _ttlSec: number): Leadership {
    if (this.closed) throw new StoreUnavailableError(`while campaigning in ${cluster}: store is closed`);
    const l = new MemoryLeadership(this.state, cluster, candidateId, () => this.leaderships.delete(l));
    this.leaderships.add(l);
    this.state.cluster(cluster).waiting.push(l);
    this.state.elect(cluster);
    return l;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const s of [...this.sessions]) s.drop();
    for (const l of [...this.leaderships]) l.drop();
    this.closed = true;
  }
}

class MemorySession implements MemberSession {
  private lease: number | null;
  private okAt: number;
  private closed = false;

  constructor(
    private readonly state: MemoryState,
    private readonly cluster: string,
    private readonly name: MemberName,
    private readonly onClosed: () => void,
  ) {
    this.lease = ++state.leaseSeq;
    this.okAt = state.now();
  }

  leaseLost(): void {
    this.lease = null;
  }

  lastOkAt(): number {
    return this.okAt;
  }

  async publish(status: MemberStatus): Promise<void> {
    if (this.closed) throw new StoreUnavailableError(`while publishing ${this.name}: session is closed`);
    this.state.check(`publishing ${this.name}`);
    if (this.lease === null) this.lease = ++this.state.leaseSeq;
    const entry = this.state.entry(status);
    this.state.cluster(this.cluster).members.set(this.name, { ...entry, session: this, lease: this.lease });
    this.okAt = this.state.now();
  }

  /** Remove the key without I/O checks (handle close). */
  drop(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClosed();
    const members = this.state.cluster(this.cluster).members;
    if (members.get(this.name)?.session === this) {
      members.delete(this.name);
      this.state.revision += 1;
    }
    this.lease = null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.state.check(`deleting ${this.name}`);
    this.drop();
  }
}

class MemoryLeadership implements Leadership {
  private closed = false;
  private leader = false;
  private term = deferred();
  private readonly listeners: Array<() => void> = [];

  constructor(
    private readonly state: MemoryState,
    private readonly cluster: string,
    readonly candidateId: string,
    private readonly onClosed: () => void,
  ) {}

  gain(): void {
    this.leader = true;
    this.term.resolve();
  }

  loseTerm(): void {
    if (!this.leader) return;
    this.leader = false;
    this.term = deferred();
    for (const l of this.listeners) {
      try {
        l();
      } catch {
        // a listener's failure must not stop the others
      }
    }
  }

  waitUntilLeader(): Promise<void> {
    if (this.closed) return Promise.reject(new BallastError('INTERNAL', 'campaign was closed (resigned)'));
    return this.leader ? Promise.resolve() : this.term.promise;
  }

  isLeader(): boolean {
    return this.leader;
  }

  onLost(listener: () => void): void {
    this.listeners.push(listener);
  }

  async writeView(view: ClusterView, expectedRevision: string, consumeCommandId?: string): Promise<boolean> {
    this.state.check(`writing view of ${this.cluster}`);
    const c = this.state.cluster(this.cluster);
    if (c.leader !== this || String(c.view?.modRevision ?? 0) !== expectedRevision) return false;
    c.view = this.state.entry(view);
    if (consumeCommandId !== undefined && c.command?.value.id === consumeCommandId) c.command = null;
    return true;
  }

  /** Leave the campaign without I/O checks (handle close). */
  drop(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClosed();
    this.term.reject(new BallastError('INTERNAL', 'campaign was closed (resigned)'));
    const c = this.state.cluster(this.cluster);
    c.waiting = c.waiting.filter((l) => l !== this);
    if (c.leader === this) {
      c.leader = null;
      this.state.revision += 1;
      this.loseTerm();
      this.state.elect(this.cluster);
    }
  }

  async resign(): Promise<void> {
    this.drop();
  }
}
