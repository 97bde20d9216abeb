// The store adapter: everything Ballast keeps in etcd goes through this interface.
// Real implementation: etcd-store.ts (etcd3 over gRPC). Unit tests use memory-store.ts.
import type {
  BackupRuns,
  ClusterEvent,
  ClusterSpec,
  ClusterView,
  Command,
  MemberName,
  MemberStatus,
} from '../domain/types.js';
import type { RouterStatus } from '../domain/router-status.js';

/** One consistent read of a whole cluster (a single etcd range request). */
export interface ClusterSnapshot {
  spec: ClusterSpec | null;
  view: ClusterView | null;
  /** mod_revision of the view key; '0' when there is no view yet. Pass back to writeView. */
  viewRevision: string;
  command: Command | null;
  members: MemberStatus[];
  /** Who currently leads the coordinators (its id), null if nobody. */
  coordinatorLeader: string | null;
  /** Routers' published status (absent from stores or fixtures that predate routing). */
  routers?: RouterStatus[];
}

/** Router side: its status under a lease (gone when the router dies). */
export interface RouterSession {
  publish(status: RouterStatus): Promise<void>;
  /** Delete the status key and revoke the lease (clean shutdown). */
  close(): Promise<void>;
}

/** Agent side: status published under a lease that expires when the agent dies. */
export interface MemberSession {
  /** Put the status under the lease. Throws StoreUnavailableError on failure. */
  publish(status: MemberStatus): Promise<void>;
  /** performance.now() of the last successful round-trip to etcd (publish or keep-alive). */
  lastOkAt(): number;
  /** Delete the status key and revoke the lease (clean shutdown). */
  close(): Promise<void>;
}

/** Coordinator side: leadership through etcd. */
export interface Leadership {
  /** Resolves when this candidate becomes leader; rejects only when closed. */
  waitUntilLeader(): Promise<void>;
  isLeader(): boolean;
  /** Called once when leadership is lost (lease expired, etcd said so, or resigned). */
  onLost(listener: () => void): void;
  /**
   * Compare-and-swap the view, only while still leader:
   * succeeds iff the view's mod revision equals expectedRevision ('0' = must not exist) and
   * this candidate's leadership key still holds. Optionally deletes the command with that id
   * in the same transaction. Returns false on a lost race; throws StoreUnavailableError.
   */
  writeView(view: ClusterView, expectedRevision: string, consumeCommandId?: string): Promise<boolean>;
  /** Give up leadership (clean shutdown). */
  resign(): Promise<void>;
}

export interface Store {
  readCluster(cluster: string): Promise<ClusterSnapshot>;
  /** Create the spec if there is none; returns the spec in force. */
  ensureSpec(cluster: string, spec: ClusterSpec): Promise<ClusterSpec>;
  putSpec(cluster: string, spec: ClusterSpec): Promise<void>;
  /** Place an operator command (replaces an older pending one). */
  putCommand(cluster: string, command: Command): Promise<void>;
  appendEvent(cluster: string, event: ClusterEvent): Promise<void>;
  /** Newest last, at most `limit`. */
  listEvents(cluster: string, limit: number): Promise<ClusterEvent[]>;
  openMemberSession(cluster: string, name: MemberName, ttlSec: number): Promise<MemberSession>;
  openRouterSession(cluster: string, id: string, ttlSec: number): Promise<RouterSession>;
  /** The scheduled backups' document and its mod revision ('0' when there is none yet). */
  readBackupRuns(cluster: string): Promise<{ runs: BackupRuns | null; revision: string }>;
  /**
   * Compare-and-swap the scheduled backups' document: succeeds iff its mod revision equals
   * expectedRevision ('0' = must not exist). Returns the new revision, or null on a lost race.
   * Not guarded by leadership: a coordinator that lost it still records the backup it ran.
   */
  writeBackupRun(cluster: string, runs: BackupRuns, expectedRevision: string): Promise<string | null>;
  /** Start campaigning for coordinator leadership with this candidate id. */
  campaign(cluster: string, candidateId: string, ttlSec: number): Leadership;
  close(): Promise<void>;
}
