// Named scenarios: a fixed list of fault steps plus what must (not) happen besides the
// checker's invariants.
import type { FaultStep } from './faults.js';

export interface Scenario {
  name: string;
  description: string;
  steps: FaultStep[];
  /** The primary before the first fault must still be primary after the last (no failover). */
  expectNoFailover?: boolean;
}

export const SCENARIOS: Scenario[] = [
  { name: 'primary-isolated', description: 'the primary host loses the network for 20 s (failover expected; it rejoins)', steps: [{ fault: 'isolate-primary', holdMs: 20_000 }] },
  { name: 'sync-isolated', description: 'the synchronous standby host loses the network for 20 s (the other standby becomes synchronous)', steps: [{ fault: 'isolate-sync', holdMs: 20_000 }] },
  {
    name: 'partial-partition',
    description: 'A (primary) and C (sync standby) cannot reach each other for 30 s; B (async) and etcd reach both',
    steps: [{ fault: 'partial-partition', holdMs: 30_000 }],
  },
  {
    name: 'etcd-quorum-lost',
    description: 'two of three etcd hosts isolated for 60 s: no quorum; no failover may happen',
    steps: [{ fault: 'etcd-quorum-loss', holdMs: 60_000 }],
    expectNoFailover: true,
  },
  { name: 'primary-frozen', description: 'agent and postgres of the primary SIGSTOPped for 20 s, then SIGCONT', steps: [{ fault: 'freeze-primary', holdMs: 20_000 }] },
  { name: 'primary-disk-full', description: "the primary's filesystem (data + pg_wal) full for 20 s", steps: [{ fault: 'disk-full-primary', holdMs: 20_000 }] },
  {
    name: 'leader-killed-during-failover',
    description: 'the primary host is isolated and the coordinator leader driving the failover is killed -9; healed after 20 s',
    steps: [{ fault: 'kill-leader-during-failover', holdMs: 20_000 }],
  },
  {
    name: 'unsafe-promotion-demo',
    description: 'MUST FAIL: a lagging async standby is promoted with --accept-data-loss while the primary and the sync standby are cut off; the checker has to report lost writes',
    steps: [{ fault: 'unsafe-promotion', holdMs: 10_000 }],
  },
  {
    name: 'quick',
    description: 'CI run: switchover, primary isolated 8 s, kill -9 of the primary postgres, PgBouncer and the leader coordinator, backup repository away 4 s',
    steps: [
      { fault: 'switchover', holdMs: 0 },
      { fault: 'backup-repo-down', holdMs: 4_000 },
      { fault: 'isolate-primary', holdMs: 8_000 },
      { fault: 'kill-postgres', holdMs: 0 },
      { fault: 'kill-pgbouncer', holdMs: 0 },
      { fault: 'kill-coordinator', holdMs: 1_000 },
    ],
  },
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
