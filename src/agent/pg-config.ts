// Pure renderers of the files Ballast owns in a member's data and run directories:
// postgresql.conf, pg_hba.conf, pg_ident.conf, ballast-dynamic.conf (role-dependent part)
// and the libpq passfile; plus the parser of synchronous_standby_names. No I/O here.
import { InvalidInputError } from '../domain/errors.js';
import { REPLICATION_USER, SUPERUSER } from '../domain/config.js';
import type { MemberName } from '../domain/types.js';
import { slotName, type Upstream } from './pg-control.js';

export const DYNAMIC_CONF = 'ballast-dynamic.conf';
export const HBA_MAP = 'ballast';

export interface StaticConfigInput {
  memberName: MemberName;
  host: string;
  port: number;
  runDir: string;
  /** Extra or overriding parameters (config.pgParameters). */
  pgParameters: Record<string, string>;
}

/** postgresql.conf quoting: always single-quoted, ' doubled, backslash escaped. */
export function quoteConfValue(value: string): string {
  if (/[\r\n\0]/.test(value)) throw new InvalidInputError('configuration values must be single-line');
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

const PARAM_NAME = /^[a-z_][a-z0-9_.]*$/i;

export function baseParameters(input: StaticConfigInput): Record<string, string> {
  return {
    listen_addresses: input.host,
    port: String(input.port),
    unix_socket_directories: input.runDir,
    unix_socket_permissions: '0700',
    cluster_name: input.memberName,
    max_connections: '200',
    shared_buffers: '64MB',
    password_encryption: 'scram-sha-256',
    wal_level: 'replica',
    fsync: 'on',
    // Crash recovery first syncs the data directory; one syncfs() per file system instead of an
    // fsync per file keeps an in-place restart of a crashed primary short on a busy disk.
    recovery_init_sync_method: 'syncfs',
    synchronous_commit: 'on',
    full_page_writes: 'on',
    wal_log_hints: 'on',
    max_wal_senders: '10',
    max_replication_slots: '10',
    wal_keep_size: '256MB',
    max_slot_wal_keep_size: '2GB',
    wal_sender_timeout: '5s',
    hot_standby: 'on',
    hot_standby_feedback: 'on',
    wal_receiver_timeout: '5s',
    wal_receiver_status_interval: '1s',
    wal_retrieve_retry_interval: '200ms',
    recovery_target_timeline: 'latest',
    logging_collector: 'off',
    log_destination: 'stderr',
    log_line_prefix: '%m [%p] ',
    log_timezone: 'UTC',
    timezone: 'UTC',
    datestyle: 'iso, mdy',
    lc_messages: 'C',
    lc_monetary: 'C',
    lc_numeric: 'C',
    lc_time: 'C',
    default_text_search_config: 'pg_catalog.english',
  };
}

/** postgresql.conf; ends by including the dynamic (role-dependent) file. */
export function renderPostgresqlConf(input: StaticConfigInput): string {
  const params = { ...baseParameters(input) };
  for (const [k, v] of Object.entries(input.pgParameters)) {
    if (!PARAM_NAME.test(k)) throw new InvalidInputError(`invalid postgres parameter name ${JSON.stringify(k)}`);
    if (k.toLowerCase() === 'include' || k.toLowerCase().startsWith('include_')) {
      throw new InvalidInputError(`parameter ${k} is not allowed`);
    }
    params[k] = v;
  }
  const lines = ['# Managed by Ballast; changes are overwritten.'];
  for (const [k, v] of Object.entries(params)) lines.push(`${k} = ${quoteConfValue(v)}`);
  lines.push(`include_if_exists = ${quoteConfValue(DYNAMIC_CONF)}`);
  return `${lines.join('\n')}\n`;
}

/** pg_hba.conf: peer for the local superuser (mapped), SCRAM everywhere else. */
export function renderPgHba(): string {
  return [
    '# Managed by Ballast; changes are overwritten.',
    '# TYPE  DATABASE     USER        ADDRESS    METHOD',
    `local   all          ${SUPERUSER}    peer map=${HBA_MAP}`,
    `local   replication  ${SUPERUSER}    peer map=${HBA_MAP}`,
    'local   all          all                    scram-sha-256',
    `host    replication  ${REPLICATION_USER}  0.0.0.0/0  scram-sha-256`,
    `host    replication  ${REPLICATION_USER}  ::/0       scram-sha-256`,
    'host    all          all         0.0.0.0/0  scram-sha-256',
    'host    all          all         ::/0       scram-sha-256',
    '',
  ].join('\n');
}

const OS_USER = /^[a-z_][a-z0-9_.-]*\$?$/i;

/** pg_ident.conf: these OS users may connect as the database superuser over the socket. */
export function renderPgIdent(osUsers: string[]): string {
  const users = [...new Set(osUsers)];
  const lines = ['# Managed by Ballast; changes are overwritten.', '# MAPNAME  SYSTEM-USERNAME  PG-USERNAME'];
  for (const u of users) {
    if (!OS_USER.test(u)) throw new InvalidInputError(`invalid OS user name ${JSON.stringify(u)}`);
    lines.push(`${HBA_MAP}  ${u}  ${SUPERUSER}`);
  }
  return `${lines.join('\n')}\n`;
}

/** libpq keyword/value connection string; values quoted when needed. */
export function renderConninfo(params: Record<string, string | number>): string {
  return Object.entries(params)
    .map(([k, v]) => {
      const s = String(v);
      const plain = s !== '' && /^[^\s'\\]+$/.test(s);
      return `${k}=${plain ? s : `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`}`;
    })
    .join(' ');
}

export type DynamicRole =
  | { kind: 'primary'; syncStandbys: MemberName[] }
  | { kind: 'standby'; upstream: Upstream; syncStandbys?: MemberName[] };

/** Double-quoted standby name for synchronous_standby_names. */
function quoteStandbyName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function renderSyncStandbyNames(names: MemberName[]): string {
  if (names.length === 0) return '';
  return `FIRST ${names.length} (${names.map(quoteStandbyName).join(', ')})`;
}

export function renderPrimaryConninfo(self: MemberName, upstream: Upstream, passfile: string): string {
  return renderConninfo({
    host: upstream.host,
    port: upstream.port,
    user: REPLICATION_USER,
    application_name: self,
    passfile,
    connect_timeout: 2,
  });
}

/**
 * ballast-dynamic.conf for the member's role (no secrets: the password is in the passfile).
 * With archiving, the primary's archive_command pushes and a standby's only checks (see
 * src/backup/render-pgbackrest.ts archiveCommands).
 */
export function renderDynamicConf(self: MemberName, role: DynamicRole, passfile: string, archive: { push: string; check: string } | null = null): string {
  const lines = ['# Managed by Ballast (role-dependent settings); changes are overwritten.'];
  if (role.kind === 'primary') {
    lines.push(`# role: primary`);
    lines.push(`synchronous_standby_names = ${quoteConfValue(renderSyncStandbyNames(role.syncStandbys))}`);
    if (archive) lines.push(`archive_command = ${quoteConfValue(archive.push)}`);
  } else {
    lines.push(`# role: standby of ${role.upstream.name}`);
    lines.push(`primary_conninfo = ${quoteConfValue(renderPrimaryConninfo(self, role.upstream, passfile))}`);
    lines.push(`primary_slot_name = ${quoteConfValue(slotName(self))}`);
    if (role.syncStandbys) {
      lines.push(`# about to be promoted: synchronous names take effect the moment it is primary`);
      lines.push(`synchronous_standby_names = ${quoteConfValue(renderSyncStandbyNames(role.syncStandbys))}`);
    }
    if (archive) lines.push(`archive_command = ${quoteConfValue(archive.check)}`);
  }
  return `${lines.join('\n')}\n`;
}

function escapePassfileField(s: string): string {
  if (/[\r\n]/.test(s)) throw new InvalidInputError('passfile fields must be single-line');
  return s.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

/** libpq passfile (hostname:port:database:username:password), one wildcard line per user. */
export function renderPassfile(entries: { user: string; password: string }[]): string {
  return entries.map((e) => `*:*:*:${escapePassfileField(e.user)}:${escapePassfileField(e.password)}\n`).join('');
}

/** Split a comma list, respecting double quotes ("" inside quotes is a quote); unquoted blanks are dropped. */
function splitNames(list: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < list.length; i++) {
    const c = list[i] as string;
    if (quoted) {
      if (c === '"' && list[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else if (!/\s/.test(c)) cur += c;
  }
  if (quoted) throw new InvalidInputError(`unterminated quote in ${JSON.stringify(list)}`);
  out.push(cur);
  return out.filter((n) => n !== '');
}

/** Parse synchronous_standby_names ('FIRST n (..)', 'ANY n (..)', 'n (..)', 'a, b', '') to names. */
export function parseSyncStandbyNames(value: string): MemberName[] {
  const v = value.trim();
  if (v === '') return [];
  const m = /^(?:(?:FIRST|ANY)\s+)?\d+\s*\((.*)\)$/is.exec(v);
  return splitNames(m ? (m[1] as string) : v);
}
