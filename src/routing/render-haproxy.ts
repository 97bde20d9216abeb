// Pure renderer of haproxy.cfg (HAProxy 2.6): spec + members + run dir in, file text out.
//
// - `listen rw`: every member is a server checked with GET /primary on its agent's API port;
//   the agent answers 200 only on the member the view names primary (and which is promoted and
//   confirmed), so at most one server is up. `balance first` keeps the choice deterministic.
// - `listen ro`: every member checked with GET /replica?max_lag_bytes=..&max_lag_ms=..,
//   round robin. With readFallback = 'primary' every member appears again as a `backup`
//   server that `track`s rw/<member>: backups are used only when no replica is up, and a
//   backup is up exactly when that member is the healthy primary (one check, two uses).
// - `on-marked-down shutdown-sessions`: a member that fails its check loses its sessions at
//   once (a demoted primary must not keep serving pooled connections).
// - The runtime API (stats socket, level admin, mode 600) lets Ballast push view changes
//   immediately; see haproxy-admin.ts.
import { InvalidInputError } from '../domain/errors.js';
import { NAME_PATTERN } from '../domain/types.js';
import { RO_PROXY, RW_PROXY, fallbackServerName, type RoutingMember, type RoutingSpec } from './routing-types.js';

export interface HaproxyPaths {
  /** Unix socket of the runtime API. */
  socket: string;
}

const HOST = /^[A-Za-z0-9.:_-]+$/;

function address(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function checkMembers(members: RoutingMember[]): void {
  const seen = new Set<string>();
  for (const m of members) {
    if (!NAME_PATTERN.test(m.name)) throw new InvalidInputError(`invalid member name ${JSON.stringify(m.name)}`);
    if (seen.has(m.name)) throw new InvalidInputError(`duplicate member ${m.name}`);
    seen.add(m.name);
    for (const h of [m.host, m.apiHost]) if (!HOST.test(h)) throw new InvalidInputError(`invalid host ${JSON.stringify(h)} of member ${m.name}`);
  }
}

/** Query string of the /replica check: only the limits that are set. */
export function replicaCheckPath(spec: Pick<RoutingSpec, 'maxLagBytes' | 'maxLagMs'>): string {
  const q: string[] = [];
  if (spec.maxLagBytes !== null) q.push(`max_lag_bytes=${spec.maxLagBytes}`);
  if (spec.maxLagMs !== null) q.push(`max_lag_ms=${spec.maxLagMs}`);
  return q.length === 0 ? '/replica' : `/replica?${q.join('&')}`;
}

function checkOptions(spec: RoutingSpec, m: RoutingMember): string {
  const hc = spec.healthCheck;
  // `addr` only when the agent listens elsewhere than postgres (checks go to host:apiPort otherwise).
  const addr = m.apiHost !== m.host ? ` addr ${m.apiHost}` : '';
  return `check${addr} port ${m.apiPort} inter ${hc.intervalMs}ms fall ${hc.fall} rise ${hc.rise} on-marked-down shutdown-sessions`;
}

export function renderHaproxyConfig(spec: RoutingSpec, members: RoutingMember[], paths: HaproxyPaths): string {
  checkMembers(members);
  const hc = spec.healthCheck;
  const bind = (p: number) => `    bind ${address(spec.listenAddress, p)}`;
  const lines: string[] = [
    '# Managed by Ballast; changes are overwritten.',
    'global',
    `    maxconn ${spec.haproxyMaxConn}`,
    `    stats socket ${paths.socket} mode 600 level admin`,
    '    stats timeout 30s',
    // Foreground under Ballast's supervision: server up/down events go to stderr (the log file).
    '    log stderr format raw local0 notice',
    '',
    'defaults',
    '    mode tcp',
    '    log global',
    '    option dontlognull',
    // Idle DB sessions are normal: keep them open, let TCP keepalives find dead peers.
    '    option tcpka',
    '    timeout connect 1s',
    `    timeout client ${spec.sessionTimeoutMs}ms`,
    `    timeout server ${spec.sessionTimeoutMs}ms`,
    // A check that has not answered within one interval counts as failed.
    `    timeout check ${hc.intervalMs}ms`,
    '',
    `listen ${RW_PROXY}`,
    bind(spec.rwPort),
    '    option httpchk GET /primary',
    '    http-check expect status 200',
    '    balance first',
  ];
  for (const m of members) lines.push(`    server ${m.name} ${address(m.host, m.port)} ${checkOptions(spec, m)}`);
  lines.push(
    '',
    `listen ${RO_PROXY}`,
    bind(spec.roPort),
    `    option httpchk GET ${replicaCheckPath(spec)}`,
    '    http-check expect status 200',
    '    balance roundrobin',
  );
  for (const m of members) lines.push(`    server ${m.name} ${address(m.host, m.port)} ${checkOptions(spec, m)}`);
  if (spec.readFallback === 'primary') {
    for (const m of members) {
      lines.push(`    server ${fallbackServerName(m.name)} ${address(m.host, m.port)} backup track ${RW_PROXY}/${m.name} on-marked-down shutdown-sessions`);
    }
  }
  lines.push('');
  return lines.join('\n');
}
