// Pure renderers of PgBouncer 1.18 files: pgbouncer.ini (one per process) and the auth_file.
//
// Several processes share one TCP port (so_reuseport = 1; the kernel spreads connections).
// Each process i needs its own unix_socket_dir, pidfile and logfile; Ballast gives it the
// directory <runDir>/pgbouncer-<i>/, and its admin console is reached over the unix socket in
// that directory (the TCP port cannot address one process).
//
// Databases: `<db>` -> HAProxy rw listener, `<db>_ro` -> HAProxy ro listener, both with
// dbname=<db> and no user= (one pool per database and user; PgBouncer logs in to the server as
// the client's user).
//
// Authentication (decision): the auth_file holds PLAINTEXT passwords, mode 0600, owned by the
// OS user PgBouncer runs as, in a 0700 directory, like secrets.json itself. PgBouncer then runs
// SCRAM-SHA-256 with clients (from the plaintext) and, independently, SCRAM-SHA-256 to the
// server. The alternative, SCRAM verifiers in the auth_file, only logs in to the server when
// the verifier is byte-identical to pg_authid's (same salt and iterations) and the client used
// SCRAM: any re-salting ALTER ROLE (Ballast computes verifiers with fresh salts) would break
// every pooled login until the file is re-rendered, and the admin user could not log in at all.
// Plaintext never goes to argv, env or logs: only the file path does.
import { InvalidInputError } from '../domain/errors.js';
import { POOLER_ADMIN_USER, readOnlyDatabase, type PoolerCredentials, type RoutingSpec } from './routing-types.js';

export interface PoolerProcessPaths {
  /** Directory of this process: its unix socket (.s.PGSQL.<port>), pidfile and logfile. */
  dir: string;
  pidFile: string;
  logFile: string;
  /** Shared auth_file (userlist). */
  authFile: string;
}

/** Where PgBouncer reaches HAProxy: the listen address, or loopback when HAProxy listens on all. */
export function haproxyTarget(spec: Pick<RoutingSpec, 'listenAddress'>): string {
  const a = spec.listenAddress;
  if (a === '0.0.0.0' || a === '*') return '127.0.0.1';
  if (a === '::') return '::1';
  return a;
}

const PATH = /^\/[^\s"';#]*$/;

function checkPath(p: string, what: string): string {
  if (!PATH.test(p)) throw new InvalidInputError(`${what} must be an absolute path without blanks or quotes: ${JSON.stringify(p)}`);
  return p;
}

/** Seconds with up to 3 decimals, as PgBouncer's time settings take them. */
function secs(ms: number): string {
  return String(Math.round(ms) / 1000);
}

export function renderPgbouncerIni(spec: RoutingSpec, paths: PoolerProcessPaths): string {
  const target = haproxyTarget(spec);
  const dbs: string[] = [];
  for (const d of spec.databases) {
    dbs.push(`${d.name} = host=${target} port=${spec.rwPort} dbname=${d.name} pool_mode=${d.poolMode}`);
    dbs.push(`${readOnlyDatabase(d.name)} = host=${target} port=${spec.roPort} dbname=${d.name} pool_mode=${d.poolMode}`);
  }
  return [
    '; Managed by Ballast; changes are overwritten.',
    '[databases]',
    ...dbs,
    '',
    '[pgbouncer]',
    `listen_addr = ${spec.listenAddress}`,
    `listen_port = ${spec.poolerPort}`,
    '; so_reuseport: every pooler process binds the same port; each has its own socket dir.',
    'so_reuseport = 1',
    `unix_socket_dir = ${checkPath(paths.dir, 'pooler dir')}`,
    'unix_socket_mode = 0700',
    `pidfile = ${checkPath(paths.pidFile, 'pidfile')}`,
    `logfile = ${checkPath(paths.logFile, 'logfile')}`,
    '',
    'auth_type = scram-sha-256',
    `auth_file = ${checkPath(paths.authFile, 'auth_file')}`,
    `admin_users = ${POOLER_ADMIN_USER}`,
    `stats_users = ${POOLER_ADMIN_USER}`,
    '',
    '; Default pool mode; each database above sets its own.',
    'pool_mode = transaction',
    `default_pool_size = ${spec.defaultPoolSize}`,
    `reserve_pool_size = ${spec.reservePoolSize}`,
    `reserve_pool_timeout = ${secs(spec.reservePoolTimeoutMs)}`,
    `max_client_conn = ${spec.maxClientConn}`,
    '; Clients arrive in bursts (benchmarks open thousands at once).',
    'listen_backlog = 4096',
    '; JDBC and pgbench set extra_float_digits at startup.',
    'ignore_startup_parameters = extra_float_digits',
    '',
    '; --- failover: at most about a second of client errors -------------------------------',
    '; After a failed server login PgBouncer fails new clients fast for server_login_retry',
    '; (default 15 s!). HAProxy switches to the new primary within ~1 s, so retry every 0.1 s.',
    'server_login_retry = 0.1',
    '; Connect + SCRAM login through HAProxy on this host takes milliseconds; HAProxy itself',
    '; gives up on an unreachable member after 1 s (timeout connect). Fail a login after 2 s.',
    'server_connect_timeout = 2',
    '; A server connection idle for more than 1 s is checked (select 1) before reuse, so a',
    '; connection to a dead or demoted primary is dropped instead of failing a client query.',
    '; (HAProxy also cuts those sessions: on-marked-down shutdown-sessions.)',
    'server_check_delay = 1',
    'server_check_query = select 1',
    '; Session pooling: after RECONNECT or a reload, close the server connection at the end of',
    '; the current transaction rather than at the end of the client session.',
    'server_fast_close = 1',
    '; Queries may wait for a server (a switchover PAUSE, a failover) this long before the client',
    '; is disconnected: longer than any pause Ballast makes, short enough to surface an outage.',
    `query_wait_timeout = ${Math.max(15, Math.ceil(spec.pauseTimeoutMs / 1000) + 10)}`,
    '; Idle server connections close before HAProxy\'s session timeout would cut them.',
    'server_idle_timeout = 300',
    'server_lifetime = 3600',
    'client_login_timeout = 10',
    '',
    'log_connections = 0',
    'log_disconnections = 0',
    'log_pooler_errors = 1',
    '',
  ].join('\n');
}

const CONTROL = /[\u0000-\u001f\u007f]/;

function quoteField(v: string, what: string): string {
  if (v.length === 0 || CONTROL.test(v)) throw new InvalidInputError(`${what} must be non-empty without control characters`);
  return `"${v.replace(/"/g, '""')}"`;
}

/** auth_file: `"user" "plaintext password"` per line (double quotes doubled). Write it 0600. */
export function renderUserlist(creds: PoolerCredentials): string {
  if (creds.admin.user !== POOLER_ADMIN_USER) throw new InvalidInputError(`the pooler admin must be ${POOLER_ADMIN_USER}`);
  const all = [...creds.users, creds.admin];
  const seen = new Set<string>();
  for (const u of all) {
    if (seen.has(u.user)) throw new InvalidInputError(`duplicate pooler user ${JSON.stringify(u.user)}`);
    seen.add(u.user);
  }
  return all.map((u) => `${quoteField(u.user, 'pooler user name')} ${quoteField(u.password, `password of ${u.user}`)}\n`).join('');
}
