// Fencing decision (pure). A primary keeps serving writes only while it can confirm its role:
// - etcd answered within fenceAfterMs (its status key and lease are alive, the view names it), or
// - etcd is unreachable but a majority of the cluster's members (counting itself) answered the
//   failsafe check within fenceAfterMs, each agreeing it is the primary (Patroni calls this
//   failsafe mode). No coordinator can fail over without etcd, so this is safe, and an etcd
//   outage alone never stops writes.
// Otherwise it fences (stops postgres) at most fenceAfterMs + one heartbeat after losing etcd.

export interface FenceInput {
  now: number;
  lastEtcdOkAt: number;
  /** Last time a failsafe quorum confirmed us, or -Infinity. */
  lastFailsafeOkAt: number;
  fenceAfterMs: number;
}

export type RoleConfirmation = 'etcd' | 'failsafe' | 'none';

export function confirmRole(i: FenceInput): RoleConfirmation {
  if (i.now - i.lastEtcdOkAt <= i.fenceAfterMs) return 'etcd';
  if (i.now - i.lastFailsafeOkAt <= i.fenceAfterMs) return 'failsafe';
  return 'none';
}

/** Majority of `clusterSize` members, counting the asking primary itself. */
export function isFailsafeQuorum(confirmations: number, clusterSize: number): boolean {
  return confirmations + 1 > clusterSize / 2;
}
