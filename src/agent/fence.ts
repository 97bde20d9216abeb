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

export interface FenceEvidence extends FenceInput {
  /** Start of the latest failed etcd attempt, or -Infinity. */
  lastEtcdFailAt: number;
  /** Start of the latest failsafe round without a quorum, or -Infinity. */
  lastFailsafeFailAt: number;
}

/**
 * Fence only on fresh evidence: the role is unconfirmed AND both an etcd attempt and a failsafe
 * round that started after the last confirmation have failed. An agent that was merely stalled
 * (GC pause, frozen process) therefore retries before it stops a healthy primary.
 */
export function shouldFence(i: FenceEvidence): boolean {
  if (confirmRole(i) !== 'none') return false;
  const lastOk = Math.max(i.lastEtcdOkAt, i.lastFailsafeOkAt);
  return i.lastEtcdFailAt > lastOk && i.lastFailsafeFailAt > lastOk;
}

/** Majority of `clusterSize` members, counting the asking primary itself. */
export function isFailsafeQuorum(confirmations: number, clusterSize: number): boolean {
  return confirmations + 1 > clusterSize / 2;
}
