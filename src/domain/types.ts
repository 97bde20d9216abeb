// Shared domain types of Ballast. Imports nothing with side effects.
//
// Vocabulary
// - spec:     what the operator wants (cluster-wide settings), /ballast/<cluster>/spec
// - view:     what the elected coordinator decided (who is primary, who is synchronous),
//             one document, /ballast/<cluster>/view, written with compare-and-swap
// - status:   what each agent observes on its host, /ballast/<cluster>/members/<name>,
//             attached to the agent's lease so it disappears when the agent dies
// - command:  an operator request (switchover/failover), /ballast/<cluster>/command
// LSNs travel as PostgreSQL's text form ("0/3000148"); see lsn.ts to compare them.

import type { ArchiveStatus } from './archive.js';

export type MemberName = string;
export type LsnText = string;

/** Cluster-wide desired settings. Stored in etcd; no secrets in here. */
export interface ClusterSpec {
  name: string;
  /** Number of synchronous standbys the primary waits for (FIRST n). Default 1. */
  syncStandbys: number;
  /**
   * What the primary does when no healthy standby can be synchronous:
   * - 'strict' (default): keep waiting for a synchronous standby; writes block, no data loss.
   * - 'allow-unreplicated': drop synchronous replication so writes continue; while this is in
   *   effect no standby is promotable without --accept-data-loss.
   */
  syncMode: 'strict' | 'allow-unreplicated';
  timing: TimingSpec;
  /** Scheduled backups and retention (absent: the defaults, see src/backup/backup-spec.ts). */
  backups?: BackupSpec;
}

export type BackupType = 'full' | 'diff' | 'incr';

/** What the elected coordinator backs up when, and what pgBackRest keeps (validated by validateBackupSpec). */
export interface BackupSpec {
  /** Cron expressions, evaluated in UTC (src/backup/schedule.ts). */
  schedule: { full: string; diff: string; incr: string };
  /**
   * Full backups to keep (older ones, with the diff/incr backups and WAL that depend on them, are
   * expired after each backup); with `days` set, full backups are kept for that many days instead
   * (pgBackRest's time-based retention: one kind or the other applies, days wins).
   */
  retention: { full: number; days: number | null };
}

/**
 * /ballast/<cluster>/backups/last: the scheduled backups' bookkeeping, one document written with
 * compare-and-swap by whichever coordinator leads (src/backup/scheduler.ts).
 */
export interface BackupRuns {
  /** Coordinator clock when the document was first written (the first full backup waits a grace period after it). */
  createdAt: number;
  /** Newest successful backup of each type (taken by the schedule, or adopted from the repository). */
  ok: Partial<Record<BackupType, BackupRunResult>>;
  /** Newest attempt of each type, successful or not. */
  last: Partial<Record<BackupType, BackupRunResult>>;
  /** The backup in progress: claimed before it starts, cleared when its result is written. */
  running: BackupClaim | null;
}

export interface BackupRunResult {
  type: BackupType;
  startedAt: number;
  finishedAt: number;
  /** Coordinator id, or 'repository' for a backup found there (manual, or the first one `up` takes). */
  by: string;
  /** pgBackRest backup label when it succeeded. */
  id: string | null;
  error: string | null;
  /** Consecutive failed attempts of this type (0 on success): the retry back-off grows with it. */
  failures: number;
}

export interface BackupClaim {
  type: BackupType;
  /** Coordinator id. */
  by: string;
  /** That coordinator's clock when it claimed. */
  since: number;
}

/** Heartbeat and timeout settings; docs/ha-protocol.md explains the chosen values. */
export interface TimingSpec {
  /** Agents publish status this often. */
  heartbeatMs: number;
  /** A member whose status has not changed for this long is stale. */
  heartbeatTimeoutMs: number;
  /** Standbys must have failed to reach the primary's postgres for this long. */
  primaryUnreachableMs: number;
  /** A primary whose postgres is down but whose agent lives gets this long to restart it. */
  primaryRestartTimeoutMs: number;
  /**
   * ... but while its postgres is starting (crash recovery running, postmaster alive) it gets up
   * to this long: replaying the WAL tail and the end-of-recovery checkpoint of a busy primary can
   * outlast primaryRestartTimeoutMs on a loaded host, and an in-place recovery is preferred.
   */
  primaryRecoveryTimeoutMs: number;
  /** After gaining leadership (or etcd coming back) the coordinator observes this long first. */
  settleMs: number;
  /** Wait this long after the primary applied a new synchronous set before trusting it. */
  syncConfirmDelayMs: number;
  /** A synchronous standby missing from the primary's replication for this long is replaced. */
  syncLossMs: number;
  /** After a new primary is set, standbys get this long to re-point before counting as lost. */
  repointGraceMs: number;
  /** A switchover waits this long for the target to catch up, then aborts. */
  switchoverTimeoutMs: number;
  /** A switchover waits this long for every live router to report its poolers paused, then aborts. */
  switchoverPauseMs: number;
  /** Agent lease TTL in seconds (etcd's granularity). */
  leaseTtlSec: number;
  /** A primary agent that cannot confirm its role (etcd or failsafe peers) for this long fences. */
  fenceAfterMs: number;
}

export const DEFAULT_TIMING: TimingSpec = {
  heartbeatMs: 100,
  heartbeatTimeoutMs: 500,
  primaryUnreachableMs: 300,
  primaryRestartTimeoutMs: 10000,
  primaryRecoveryTimeoutMs: 20000,
  settleMs: 1500,
  syncConfirmDelayMs: 500,
  syncLossMs: 300,
  repointGraceMs: 5000,
  switchoverTimeoutMs: 15000,
  switchoverPauseMs: 5000,
  leaseTtlSec: 2,
  fenceAfterMs: 2000,
};

/** A stored spec written by an older version may lack newer timings: fill them with defaults. */
export function withSpecDefaults(spec: ClusterSpec): ClusterSpec {
  return { ...spec, timing: { ...DEFAULT_TIMING, ...spec.timing } };
}

export function defaultSpec(name: string): ClusterSpec {
  return { name, syncStandbys: 1, syncMode: 'strict', timing: { ...DEFAULT_TIMING } };
}

/** The coordinator's decision: the cluster's desired topology. */
export interface ClusterView {
  /** Bumped on every change. Agents ignore views older than one they have applied. */
  generation: number;
  /** Member that must run as primary; null before bootstrap. */
  primary: MemberName | null;
  /** Coordinator clock when `primary` was last set (bootstrap, failover, switchover). */
  primarySince: number;
  /** Timeline the primary is expected on (0 until known). */
  timeline: number;
  /** What the primary must put in synchronous_standby_names (FIRST n (...)). */
  syncStandbys: MemberName[];
  /**
   * Members proven to hold every commit the primary acknowledged: the only promotable ones.
   * Always a subset of syncStandbys; see docs/ha-protocol.md for the change protocol.
   */
  syncConfirmed: MemberName[];
  /** In-progress change of the synchronous set (phase between apply and proof). */
  syncChange: SyncChange | null;
  /** True while the primary runs without synchronous replication (allow-unreplicated mode). */
  unreplicated: boolean;
  /** Planned switchover in progress. */
  switchover: Switchover | null;
  /** Outcome of the last operator command, so the CLI can report it. */
  lastCommand: CommandOutcome | null;
  /** Plain-English reason for the latest change. */
  reason: string;
  /** Coordinator wall clock at the latest change (ms since epoch), informational. */
  updatedAt: number;
}

export interface SyncChange {
  /** The set being moved to (equals view.syncStandbys). */
  target: MemberName[];
  /** Coordinator time when the view asking for `target` was written. */
  requestedAt: number;
  /** Coordinator time when the primary was first seen applying `target`, or null. */
  appliedAt: number | null;
  /** Primary flush LSN recorded syncConfirmDelayMs after apply; the new set must reach it. */
  barrierLsn: LsnText | null;
}

export interface Switchover {
  id: string;
  from: MemberName;
  to: MemberName;
  /**
   * 'sync-target': making the target synchronous first; 'pausing': every router PAUSEs its
   * poolers (in-flight transactions finish, new ones wait); 'stopping': old primary shuts down.
   */
  phase: 'sync-target' | 'pausing' | 'stopping';
  startedAt: number;
  /** Coordinator clock when the pausing phase began (absent before it). */
  pausingSince?: number;
}

export interface Command {
  id: string;
  kind: 'switchover' | 'failover';
  /** Target member; optional for switchover (best standby is chosen). */
  to: MemberName | null;
  acceptDataLoss: boolean;
  requestedAt: number;
}

export interface CommandOutcome {
  id: string;
  kind: Command['kind'];
  result: 'done' | 'rejected' | 'aborted';
  message: string;
  at: number;
}

/** Lifecycle of the local postgres as the agent sees it. */
export type PostgresState =
  | 'absent' // no data directory yet
  | 'initializing' // initdb running
  | 'cloning' // pg_basebackup running
  | 'rewinding' // pg_rewind running
  | 'stopped'
  | 'starting'
  | 'running'
  | 'stopping'
  | 'crashed'; // died without being asked to; the agent restarts it with back-off

export interface ReplicationPeer {
  /** application_name, which Ballast sets to the member name. */
  name: MemberName;
  state: string; // streaming, catchup, startup, backup, stopping
  syncState: string; // sync, async, potential, quorum
  flushLsn: LsnText | null;
  replayLsn: LsnText | null;
  replayLagMs: number | null;
}

export interface RejoinRecord {
  /** restore: `pgbackrest restore --delta` of the newest backup, then the archive and streaming catch up. */
  method: 'repoint' | 'rewind' | 'basebackup' | 'restore';
  /** Why this method (and why a fallback happened). */
  reason: string;
  result: 'running' | 'ok' | 'failed';
  at: number;
  /** How long the rewind, restore or clone took (ms), once it is done; absent from older agents. */
  tookMs?: number;
}

/** One line of a timeline history file: timeline `tli` ended (and its child began) at `switchLsn`. */
export interface TimelineSwitch {
  tli: number;
  switchLsn: LsnText;
}

/** What an agent publishes several times a second. */
export interface MemberStatus {
  name: MemberName;
  host: string;
  port: number;
  /** Agent HTTP API (health endpoints) port. */
  apiPort: number;
  agentPid: number;
  postgresPid: number | null;
  /** Increments on every publish: the coordinator detects liveness from its changes. */
  seq: number;
  /** Agent wall clock (informational; the coordinator uses its own clock). */
  at: number;
  /** Newest view generation this agent has seen and acted on. */
  viewGeneration: number;
  postgres: PostgresState;
  /** Accepting connections and answering queries. */
  healthy: boolean;
  inRecovery: boolean | null;
  timeline: number | null;
  /**
   * Primary only: the newest entries of its timeline's history file (where each ancestor
   * timeline ended), oldest first; null on timeline 1 or when unknown. Absent from older agents.
   */
  timelineHistory?: TimelineSwitch[] | null;
  systemId: string | null;
  /** Primary: pg_current_wal_lsn. Standby: receive LSN (or replay if not streaming). */
  lsn: LsnText | null;
  flushLsn: LsnText | null;
  receiveLsn: LsnText | null;
  replayLsn: LsnText | null;
  /** Standby: bytes behind the primary's flush LSN; primary: 0. */
  lagBytes: number | null;
  /** Standby: age of the oldest WAL not yet replayed; primary: 0. */
  lagMs: number | null;
  /** Primary only: synchronous_standby_names in effect, parsed to member names. */
  appliedSync: MemberName[] | null;
  /** Primary only: pg_stat_replication. */
  replication: ReplicationPeer[];
  /** Standby only: which member its walreceiver streams from (null if not streaming). */
  streamingFrom: MemberName | null;
  /** Standby only: can it reach the view's primary postgres? null when not applicable. */
  primaryReachable: boolean | null;
  /** Standby only: how long the primary has been unreachable, ms (0 when reachable). */
  primaryUnreachableForMs: number;
  /** Primary only: true when the agent fenced postgres (could not confirm its role). */
  fenced: boolean;
  /** Consecutive failed starts of postgres (crash loop). */
  restartAttempts: number;
  /** How long postgres has been down although it should run (ms, agent clock); null if fine. */
  downForMs: number | null;
  rejoin: RejoinRecord | null;
  /** WAL archiving as this member's postgres reports it (null when not running; absent from older agents). */
  archive?: ArchiveStatus | null;
  /** What the agent is doing right now, for humans. */
  activity: string;
  lastError: string | null;
}

/** What the coordinator knows about one member when it calls decide(). */
export interface ObservedMember {
  status: MemberStatus;
  /** Coordinator clock when status.seq last changed. */
  lastChangeAt: number;
  /**
   * Coordinator clock since when this member has been missing from the view primary's
   * pg_stat_replication as 'streaming' (null while it streams). Bookkept by the loop.
   */
  notStreamingSince: number | null;
  /**
   * Coordinator clock since when this member's status has said healthy = false (null or absent
   * while healthy). Bookkept by the loop; lets decisions tell a blip from a lasting failure.
   */
  unhealthySince?: number | null;
}

/** A live router (its status is under a lease) as far as a switchover cares. */
export interface ObservedRouter {
  id: string;
  pause: RouterPause | null;
}

/** A router's pause of its poolers for one switchover. */
export interface RouterPause {
  switchoverId: string;
  state: 'pausing' | 'paused' | 'failed';
  /** Router wall clock when the pause began. */
  since: number;
  error: string | null;
}

export interface Observed {
  members: Record<MemberName, ObservedMember>;
  /** Live routers (absent in fixtures that predate routing: treated as none). */
  routers?: ObservedRouter[];
  /** Coordinator clock when it started observing (leadership gained or etcd regained). */
  observingSince: number;
  command: Command | null;
}

export type CoordinatorAction =
  | { kind: 'event'; level: 'info' | 'warn' | 'error'; message: string }
  | { kind: 'consume-command'; id: string };

export interface Decision {
  /** Next view; equal (same generation) to the previous when nothing changes. */
  view: ClusterView | null;
  actions: CoordinatorAction[];
  /** Plain-English reason for this pass (also when nothing changes). */
  reason: string;
}

/** Role shown by `ballast status`. */
export type DisplayRole = 'primary' | 'sync' | 'async' | 'starting' | 'down';

export interface ClusterEvent {
  at: number;
  source: string; // 'coordinator' or 'agent:<name>'
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** Member and cluster names: safe in file names, slot names and SQL identifiers. */
export const NAME_PATTERN = /^[a-z][a-z0-9_]{0,30}$/;
