// The agent's adapter to its local PostgreSQL: processes, files and SQL.
// Real implementation: postgres-control.ts (runs binaries as the OS user, talks SQL with `pg`).
import type { StanzaInfo } from '../backup/backup-info.js';
import type { ArchiverFacts } from '../domain/archive.js';
import type { LsnText, MemberName, ReplicationPeer } from '../domain/types.js';

/** Where the upstream primary is, for primary_conninfo, pg_basebackup and pg_rewind. */
export interface Upstream {
  name: MemberName;
  host: string;
  port: number;
}

/** One SQL observation of a running postgres (all in one round-trip where possible). */
export interface PgObservation {
  inRecovery: boolean;
  timeline: number;
  systemId: string;
  /** Primary: pg_current_wal_lsn(); standby: null. */
  currentLsn: LsnText | null;
  /** Primary: pg_current_wal_flush_lsn(); standby: pg_last_wal_receive_lsn(). */
  flushLsn: LsnText | null;
  /** Standby: pg_last_wal_receive_lsn(). */
  receiveLsn: LsnText | null;
  /** Standby: pg_last_wal_replay_lsn(). */
  replayLsn: LsnText | null;
  /** SHOW synchronous_standby_names, parsed to names ([] when empty). */
  syncStandbyNames: MemberName[];
  /** Primary: pg_stat_replication rows (application_name = member name). */
  replication: ReplicationPeer[];
  /** Standby: pg_stat_wal_receiver, or null when no walreceiver runs. */
  receiver: {
    status: string;
    senderHost: string | null;
    senderPort: number | null;
    receivedTli: number | null;
  } | null;
  /** Names of physical replication slots present. */
  slots: string[];
  /** pg_stat_archiver and archive_mode, from the newest observeArchive() (absent until the first). */
  archiver?: ArchiverFacts;
}

/** pg_controldata facts used to decide how to rejoin. */
export interface ControlData {
  /** "in production", "shut down", "shut down in recovery", "in archive recovery", "in crash recovery", ... */
  state: string;
  timeline: number; // Latest checkpoint's TimeLineID
  checkpointLsn: LsnText; // Latest checkpoint location
  systemId: string;
}

export interface PgControl {
  /**
   * SIGTERM our postgres' walreceiver (found as the child of our postmaster titled walreceiver;
   * pg_stat_wal_receiver shows no pid until it has connected); the startup process starts a new
   * one at once. Returns the pid signalled, or null when there was none.
   */
  restartWalReceiver(): Promise<number | null>;
  /** The last `bytes` of this postgres' log file ('' when there is none). */
  logEnd(bytes: number): Promise<string>;
  /** The text of pg_wal/<tli>.history, or null when there is none. */
  timelineHistory(tli: number): Promise<string | null>;
  /** Data directory exists and holds PG_VERSION, and no clone by restore into it is unfinished. */
  hasDataDir(): Promise<boolean>;
  /** initdb with data checksums, SCRAM, the superuser password from the secrets file. */
  initdb(): Promise<void>;
  /** Clone from the upstream with pg_basebackup (WAL streamed), replacing any data dir. */
  basebackup(from: Upstream, onProgress?: (line: string) => void): Promise<void>;
  /**
   * `pgbackrest info` of this member's stanza through its own pgBackRest file (throws when the
   * member does not archive, on a pgBackRest error, or after timeoutMs).
   */
  backupInfo(timeoutMs: number): Promise<StanzaInfo>;
  /**
   * Clone by restoring the backup `backupId` with `pgbackrest restore --delta` into the data dir
   * (kept files that match are not copied again; an absent or non-data directory is made afresh,
   * 0700), then make it a standby of `from` with Ballast's files, like basebackup(). Until it
   * completes the data directory counts as absent (hasDataDir() is false), so an interrupted
   * restore is cloned again rather than started. Throws with pgBackRest's explained error.
   */
  restore(from: Upstream, backupId: string, onProgress?: (line: string) => void): Promise<void>;
  /** pg_rewind against the running upstream; throws CommandFailedError with pg_rewind's output. */
  rewind(from: Upstream): Promise<void>;
  controlData(): Promise<ControlData>;
  /** Write postgresql.conf, pg_hba.conf, pg_ident.conf (idempotent; keeps the data dir's other files). */
  writeStaticConfig(): Promise<void>;
  /**
   * Write the dynamic part (ballast-dynamic.conf): as a standby, primary_conninfo (with passfile,
   * application_name = member name) and primary_slot_name; as primary, synchronous_standby_names
   * = FIRST n (names) or '' when names is empty. Creates or removes standby.signal.
   * A standby about to be promoted also gets syncStandbys, so its first commit as primary
   * already waits for a synchronous standby (standby.signal stays: postgres removes it).
   * Returns true if anything changed on disk.
   */
  writeDynamicConfig(role: { kind: 'primary'; syncStandbys: MemberName[] } | { kind: 'standby'; upstream: Upstream; syncStandbys?: MemberName[] }): Promise<boolean>;
  /** Spawn the postmaster detached (survives the agent). Resolves once it accepts connections or fails. */
  start(timeoutMs: number): Promise<void>;
  /** pg_ctl stop -m fast (falls back to immediate after timeoutMs). */
  stop(mode: 'fast' | 'immediate', timeoutMs: number): Promise<void>;
  /** Postmaster pid if a live postmaster owns this data dir, else null. */
  postmasterPid(): Promise<number | null>;
  /** SELECT pg_reload_conf(). */
  reload(): Promise<void>;
  /** CHECKPOINT (before a planned shutdown, so the shutdown checkpoint has little left to write). */
  checkpoint(): Promise<void>;
  /** SELECT pg_promote(wait => true). */
  promote(timeoutMs: number): Promise<void>;
  /** One observation; throws PostgresUnavailableError when it cannot connect or query. */
  observe(): Promise<PgObservation>;
  /** WAL archiving facts (pg_stat_archiver, waiting .ready segments); the executor samples them once a second. */
  observeArchive(): Promise<ArchiverFacts>;
  /** Make sure exactly these physical slots exist (creates missing, drops others named ballast_*). */
  syncSlots(wanted: string[]): Promise<void>;
  /** On a fresh primary: create replication and application roles (SCRAM verifiers, never plaintext) and the app database. Idempotent. */
  ensureRoles(): Promise<void>;
  /** Probe another member's postgres: connect + SELECT 1 within timeoutMs. */
  probe(target: Upstream, timeoutMs: number): Promise<boolean>;
  /** Close pooled connections. */
  close(): Promise<void>;
}

/** Slot name for a member. */
export function slotName(member: MemberName): string {
  return `ballast_${member}`;
}
