// Pure renderers of pgBackRest's configuration (spec in, file text out; no I/O).
//
// Two kinds of file per cluster (one stanza per cluster, named after it):
// - the member file (runDir/pgbackrest.conf, 0600, owned by the postgres OS user): used by
//   archive_command (archive-push) and restore_command (archive-get) of that member only; pg1 is
//   the member itself, with its own spool, lock and log directories (two members on one host
//   must never share a spool: pgBackRest checks that pg1-path is the pushing server's);
// - the repository-side file (DIR/backup/pgbackrest.conf locally): used by stanza-create,
//   backup, expire, info, verify and restore; pg1..pgN are the members (a backup picks the
//   primary and one standby: backup-standby).
// With a dedicated backup host (multi-host), the repository-side file lives there and also
// configures its `pgbackrest server` (TLS, clients authorized by certificate CN); the members'
// files name it as repo1-host, and each member host runs a small `pgbackrest server` of its own
// (renderPgHostServerConf) through which the backup host reads the member's files.
// Every member runs with archive_mode=always, so pgBackRest's archive-mode-check is turned off on
// purpose; only the primary pushes (see archiveCommands), so the repository has one writer.
// docs/backups.md explains why this closes the gap a crashed primary leaves.
import { InvalidInputError } from '../domain/errors.js';

/** Where the repository lives. S3 options pass straight through to pgBackRest (untested here). */
export type BackupRepo =
  | { kind: 'local'; path: string }
  | { kind: 'tls'; host: string; port: number; path: string; caFile: string; certFile: string; keyFile: string }
  | { kind: 's3'; path: string; options: Record<string, string> };

export interface RetentionSpec {
  /** Number of full backups to keep (older ones and their WAL are expired). */
  full: number;
  /** Also expire full backups older than this many days (null: count only). */
  days: number | null;
}

export interface PgInstance {
  dataDir: string;
  port: number;
  /** Directory of the Unix socket (the member's runDir). */
  socketDir: string;
  /** Remote pgBackRest TLS server of the member's host (multi-host), or null for a local one. */
  host?: { address: string; port: number; caFile: string; certFile: string; keyFile: string } | null;
}

export interface CommonInput {
  stanza: string;
  repo: BackupRepo;
  cipherPass: string;
  logDir: string;
  lockDir: string;
  /** Parallel processes for compression and transfer. */
  processMax: number;
}

export interface MemberFileInput extends CommonInput {
  self: PgInstance;
  spoolDir: string;
  /** archive-push-queue-max: WAL kept for the archive beyond this is dropped (breaks PITR, keeps the primary up). */
  pushQueueMax: string;
}

export interface RepoFileInput extends CommonInput {
  members: PgInstance[];
  retention: RetentionSpec;
  /** On a dedicated backup host: its pgBackRest TLS server, which the members' archive-push reaches. */
  server?: TlsServer | null;
}

/** A pgBackRest TLS server (`pgbackrest server`): clients are authorized by their certificate's CN. */
export interface TlsServer {
  address: string;
  port: number;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Client certificate CNs allowed in, each for these stanzas. */
  clients: { cn: string; stanzas: string[] }[];
}

/** A member host's TLS server file: lets the backup host read the member's files for a backup. */
export interface PgHostServerInput {
  stanza: string;
  server: TlsServer;
  self: PgInstance;
  logDir: string;
  lockDir: string;
}

export const DEFAULT_PUSH_QUEUE_MAX = '4GiB';
export const DEFAULT_RETENTION: RetentionSpec = { full: 2, days: null };

const SIZE = /^[1-9][0-9]*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$/;

/** A value in pgBackRest's key=value format: one line, no leading/trailing blanks. */
function value(key: string, v: string | number): string {
  const s = String(v);
  if (s === '' || /[\r\n\0]/.test(s) || s.trim() !== s) throw new InvalidInputError(`pgBackRest option ${key}: invalid value ${JSON.stringify(s)}`);
  return `${key}=${s}`;
}

function checkPath(key: string, p: string): string {
  if (!p.startsWith('/')) throw new InvalidInputError(`pgBackRest option ${key} must be an absolute path (got ${JSON.stringify(p)})`);
  return p;
}

export function checkQueueMax(v: string): string {
  if (!SIZE.test(v)) throw new InvalidInputError(`archive push queue limit must be a size such as 4GiB or 512MiB (got ${JSON.stringify(v)})`);
  return v;
}

function repoLines(repo: BackupRepo, cipherPass: string): string[] {
  if (cipherPass.length < 16) throw new InvalidInputError('the repository cipher pass must be at least 16 characters');
  const lines = [value('repo1-path', checkPath('repo1-path', repo.path))];
  if (repo.kind === 'tls') {
    lines.push(
      value('repo1-host', repo.host),
      value('repo1-host-port', repo.port),
      'repo1-host-type=tls',
      value('repo1-host-ca-file', checkPath('repo1-host-ca-file', repo.caFile)),
      value('repo1-host-cert-file', checkPath('repo1-host-cert-file', repo.certFile)),
      value('repo1-host-key-file', checkPath('repo1-host-key-file', repo.keyFile)),
    );
  } else if (repo.kind === 's3') {
    lines.push('repo1-type=s3');
    for (const [k, v] of Object.entries(repo.options)) {
      if (!/^s3-[a-z0-9-]+$/.test(k)) throw new InvalidInputError(`S3 option ${JSON.stringify(k)} is not a repo1-s3-* option of pgBackRest`);
      lines.push(value(`repo1-${k}`, v));
    }
  }
  // Also with a TLS repository host: the client side encrypts and decrypts (2.45 reads an
  // encrypted archive.info through the backup host's server and fails without the pass).
  lines.push('repo1-cipher-type=aes-256-cbc', value('repo1-cipher-pass', cipherPass));
  return lines;
}

function commonLines(i: CommonInput): string[] {
  return [
    ...repoLines(i.repo, i.cipherPass),
    value('log-path', checkPath('log-path', i.logDir)),
    value('lock-path', checkPath('lock-path', i.lockDir)),
    'log-level-console=warn',
    'log-level-stderr=warn',
    'log-level-file=info',
    value('process-max', Math.max(1, Math.min(16, Math.floor(i.processMax)))),
    'compress-type=zst',
    'compress-level=3',
    // Every member archives (archive_mode=always); see the header.
    'archive-mode-check=n',
  ];
}

function pgLines(n: number, pg: PgInstance): string[] {
  const lines = [
    value(`pg${n}-path`, checkPath(`pg${n}-path`, pg.dataDir)),
    value(`pg${n}-port`, pg.port),
    value(`pg${n}-socket-path`, checkPath(`pg${n}-socket-path`, pg.socketDir)),
  ];
  if (pg.host) {
    lines.push(
      value(`pg${n}-host`, pg.host.address),
      value(`pg${n}-host-port`, pg.host.port),
      `pg${n}-host-type=tls`,
      value(`pg${n}-host-ca-file`, pg.host.caFile),
      value(`pg${n}-host-cert-file`, pg.host.certFile),
      value(`pg${n}-host-key-file`, pg.host.keyFile),
    );
  }
  return lines;
}

function tlsServerLines(t: TlsServer): string[] {
  if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new InvalidInputError(`pgBackRest TLS server port must be 1 to 65535 (got ${t.port})`);
  if (t.clients.length === 0) throw new InvalidInputError('a pgBackRest TLS server needs at least one authorized client');
  return [
    value('tls-server-address', t.address),
    value('tls-server-port', t.port),
    value('tls-server-ca-file', checkPath('tls-server-ca-file', t.caFile)),
    value('tls-server-cert-file', checkPath('tls-server-cert-file', t.certFile)),
    value('tls-server-key-file', checkPath('tls-server-key-file', t.keyFile)),
    ...t.clients.map((c) => {
      if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(c.cn)) throw new InvalidInputError(`TLS client CN ${JSON.stringify(c.cn)} is not a valid certificate name`);
      if (c.stanzas.length === 0) throw new InvalidInputError(`TLS client ${c.cn} is authorized for no stanza`);
      return value('tls-server-auth', `${c.cn}=${c.stanzas.map(stanzaName).join(',')}`);
    }),
  ];
}

function stanzaName(s: string): string {
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(s)) throw new InvalidInputError(`invalid stanza name ${JSON.stringify(s)}`);
  return s;
}

/** The member's own file (archive-push / archive-get). */
export function renderMemberConf(i: MemberFileInput): string {
  const lines = [
    '# Managed by Ballast; changes are overwritten. Holds the repository cipher pass: mode 0600.',
    '[global]',
    ...commonLines(i),
    value('spool-path', checkPath('spool-path', i.spoolDir)),
    'archive-async=y',
    value('archive-push-queue-max', checkQueueMax(i.pushQueueMax)),
    'archive-get-queue-max=256MiB',
    // A foreground archive-push reports a failed repository after 10 s instead of 60 s.
    'archive-timeout=10',
    // pgBackRest retries a refused or unanswered connection for twice io-timeout (default 60 s:
    // 2 minutes per call). A member must not wait that long on a backup host that is down.
    'io-timeout=5',
    '',
    `[${stanzaName(i.stanza)}]`,
    ...pgLines(1, i.self),
    '',
  ];
  return lines.join('\n');
}

/** The repository side's file (stanza-create, backup, expire, info, verify, restore). */
export function renderRepoConf(i: RepoFileInput): string {
  if (i.members.length === 0 || i.members.length > 8) throw new InvalidInputError('a backup configuration names 1 to 8 members');
  if (!Number.isInteger(i.retention.full) || i.retention.full < 1 || i.retention.full > 100) {
    throw new InvalidInputError(`backups.retention.full must be a whole number from 1 to 100 (got ${i.retention.full})`);
  }
  const retention = i.retention.days === null
    ? ['repo1-retention-full-type=count', value('repo1-retention-full', i.retention.full)]
    : ['repo1-retention-full-type=time', value('repo1-retention-full', i.retention.days)];
  const lines = [
    '# Managed by Ballast; changes are overwritten. Holds the repository cipher pass: mode 0600.',
    '[global]',
    ...commonLines(i),
    ...retention,
    'start-fast=y',
    'backup-standby=y',
    'delta=y',
    ...(i.server ? tlsServerLines(i.server) : []),
    '',
    `[${stanzaName(i.stanza)}]`,
    ...i.members.flatMap((m, idx) => pgLines(idx + 1, m)),
    '',
  ];
  return lines.join('\n');
}

/**
 * The file of a member host's `pgbackrest server` (multi-host with a backup host): the backup
 * host's backup command reads the member's files and asks its postgres for backup start/stop
 * through it. No repository and no cipher pass: the member has neither.
 */
export function renderPgHostServerConf(i: PgHostServerInput): string {
  return [
    '# Managed by Ballast; changes are overwritten.',
    '[global]',
    value('log-path', checkPath('log-path', i.logDir)),
    value('lock-path', checkPath('lock-path', i.lockDir)),
    'log-level-console=warn',
    'log-level-stderr=warn',
    'log-level-file=info',
    ...tlsServerLines(i.server),
    '',
    `[${stanzaName(i.stanza)}]`,
    ...pgLines(1, { ...i.self, host: null }),
    '',
  ].join('\n');
}

/** A path placed in a shell command line (archive_command): plain characters only. */
function shellPath(p: string): string {
  if (!/^\/[A-Za-z0-9_./-]+$/.test(p)) throw new InvalidInputError(`path ${JSON.stringify(p)} cannot go into archive_command (letters, digits, _ . / - only)`);
  return p;
}

/**
 * postgresql.conf settings of every member (role-independent): archive_mode=always, so a standby
 * keeps each segment it received until the segment is in the archive, restore_command, and
 * archive_timeout. archive_command depends on the role: see archiveCommands.
 */
export function archiveParameters(configFile: string, stanza: string, archiveTimeoutSec: number): Record<string, string> {
  const base = `pgbackrest --config=${shellPath(configFile)} --stanza=${stanzaName(stanza)}`;
  return {
    archive_mode: 'always',
    // 2 s: PostgreSQL runs restore_command while it promotes (timeline history probes); with the
    // backup host down each call then costs ~4 s instead of minutes (docs/backups.md).
    restore_command: `${base} --io-timeout=2 archive-get %f "%p"`,
    archive_timeout: `${Math.max(1, Math.floor(archiveTimeoutSec))}s`,
  };
}

/**
 * archive_command by role. Only the primary writes to the repository (pgBackRest's repository
 * writes are not safe against two writers of one segment). A standby's command succeeds only
 * once the segment is in the archive (archive-get finds it), retrying for a few seconds; until
 * then PostgreSQL keeps the segment. When a standby is promoted its command becomes the push,
 * and the archiver pushes every segment still waiting, including those the old primary never
 * archived: the archive has no gap across a failover.
 */
export function archiveCommands(configFile: string, stanza: string, checkFile: string): { push: string; check: string } {
  const base = `pgbackrest --config=${shellPath(configFile)} --stanza=${stanzaName(stanza)}`;
  const tmp = shellPath(checkFile);
  return {
    push: `${base} archive-push %p`,
    check: `for i in 1 2 3 4 5; do ${base} --no-archive-async archive-get %f ${tmp} >/dev/null 2>&1 && rm -f ${tmp} && exit 0; sleep 1; done; exit 1`,
  };
}
