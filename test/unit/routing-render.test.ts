// Pure routing renderers: haproxy.cfg, pgbouncer.ini, the auth_file, and the routing spec.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidInputError } from '../../src/domain/errors.js';
import { renderHaproxyConfig, replicaCheckPath } from '../../src/routing/render-haproxy.js';
import { haproxyTarget, renderPgbouncerIni, renderUserlist, type PoolerProcessPaths } from '../../src/routing/render-pgbouncer.js';
import { POOLER_ADMIN_USER, parseRoutingSpec, type RoutingMember } from '../../src/routing/routing-types.js';

const spec = parseRoutingSpec({
  rwPort: 5000, roPort: 5001, poolerPort: 6432, poolerProcesses: 2,
  databases: [{ name: 'app' }, { name: 'reports', poolMode: 'session' }],
});
const members: RoutingMember[] = [
  { name: 'a', host: '10.0.0.1', port: 5432, apiHost: '10.0.0.1', apiPort: 8008 },
  { name: 'b', host: '10.0.0.2', port: 5432, apiHost: '10.0.1.2', apiPort: 8008 },
];
const socket = '/run/ballast/routing/haproxy.sock';

const HAPROXY_SNAPSHOT = `# Managed by Ballast; changes are overwritten.
global
    maxconn 4096
    stats socket /run/ballast/routing/haproxy.sock mode 600 level admin
    stats timeout 30s
    log stderr format raw local0 notice

defaults
    mode tcp
    log global
    option dontlognull
    option tcpka
    timeout connect 1s
    timeout client 3600000ms
    timeout server 3600000ms
    timeout check 500ms

listen rw
    bind 127.0.0.1:5000
    option httpchk GET /primary
    http-check expect status 200
    balance first
    server a 10.0.0.1:5432 check port 8008 inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
    server b 10.0.0.2:5432 check addr 10.0.1.2 port 8008 inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions

listen ro
    bind 127.0.0.1:5001
    option httpchk GET /replica?max_lag_ms=60000
    http-check expect status 200
    balance roundrobin
    server a 10.0.0.1:5432 check port 8008 inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
    server b 10.0.0.2:5432 check addr 10.0.1.2 port 8008 inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
    server a-primary 10.0.0.1:5432 backup track rw/a on-marked-down shutdown-sessions
    server b-primary 10.0.0.2:5432 backup track rw/b on-marked-down shutdown-sessions
`;

describe('routing spec', () => {
  it('fills defaults: transaction pooling, 60 s lag SLO, primary fallback, 500 ms checks', () => {
    const s = parseRoutingSpec({ rwPort: 1, roPort: 2, poolerPort: 3 });
    assert.equal(s.listenAddress, '127.0.0.1');
    assert.deepEqual(s.databases, [{ name: 'app', poolMode: 'transaction' }]);
    assert.equal(s.maxLagMs, 60_000);
    assert.equal(s.maxLagBytes, null);
    assert.equal(s.readFallback, 'primary');
    assert.deepEqual(s.healthCheck, { intervalMs: 500, fall: 2, rise: 2 });
    assert.ok(s.poolerProcesses >= 1);
  });
  const bad: [string, unknown, RegExp][] = [
    ['same ports', { rwPort: 1, roPort: 1, poolerPort: 3 }, /must differ/],
    ['unknown key', { rwPort: 1, roPort: 2, poolerPort: 3, pool_mode: 'x' }, /unrecognized/i],
    ['bad pool mode', { rwPort: 1, roPort: 2, poolerPort: 3, databases: [{ name: 'app', poolMode: 'statement' }] }, /poolMode/],
    ['ro alias clash', { rwPort: 1, roPort: 2, poolerPort: 3, databases: [{ name: 'app' }, { name: 'app_ro' }] }, /clashes/],
    ['bad db name', { rwPort: 1, roPort: 2, poolerPort: 3, databases: [{ name: 'App; drop' }] }, /databases/],
    ['bad fallback', { rwPort: 1, roPort: 2, poolerPort: 3, readFallback: 'never' }, /readFallback/],
    ['zero processes', { rwPort: 1, roPort: 2, poolerPort: 3, poolerProcesses: 0 }, /poolerProcesses/],
  ];
  for (const [name, raw, re] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(() => parseRoutingSpec(raw), (e: unknown) => e instanceof InvalidInputError && re.test(e.message));
    });
  }
});

describe('renderHaproxyConfig', () => {
  const text = renderHaproxyConfig(spec, members, { socket });
  it('matches the snapshot', () => assert.equal(text, HAPROXY_SNAPSHOT));
  it('has an admin runtime socket and tcp mode', () => {
    assert.match(text, /^ {4}stats socket \/run\/ballast\/routing\/haproxy\.sock mode 600 level admin$/m);
    assert.match(text, /^ {4}mode tcp$/m);
  });
  it('checks every member on its agent port, shutting sessions on down', () => {
    for (const m of members) {
      const lines = text.split('\n').filter((l) => l.startsWith(`    server ${m.name} `));
      assert.equal(lines.length, 2, 'in rw and in ro');
      for (const l of lines) assert.match(l, new RegExp(`check .*port ${m.apiPort} inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions$`));
    }
  });
  it('drops the primary backups when reads must not fall back', () => {
    const refuse = renderHaproxyConfig({ ...spec, readFallback: 'refuse' }, members, { socket });
    assert.doesNotMatch(refuse, /backup/);
    assert.doesNotMatch(refuse, /track/);
  });
  it('puts the lag limits that are set in the /replica check', () => {
    const cases: [number | null, number | null, string][] = [
      [null, null, '/replica'],
      [null, 60000, '/replica?max_lag_ms=60000'],
      [1048576, null, '/replica?max_lag_bytes=1048576'],
      [1048576, 500, '/replica?max_lag_bytes=1048576&max_lag_ms=500'],
    ];
    for (const [maxLagBytes, maxLagMs, path] of cases) {
      assert.equal(replicaCheckPath({ maxLagBytes, maxLagMs }), path);
      assert.match(renderHaproxyConfig({ ...spec, maxLagBytes, maxLagMs }, members, { socket }), new RegExp(`option httpchk GET ${path.replace(/[?]/g, '\\?')}\n`));
    }
  });
  it('brackets IPv6 addresses and uses the health-check settings', () => {
    const t = renderHaproxyConfig({ ...spec, listenAddress: '::1', healthCheck: { intervalMs: 250, fall: 3, rise: 1 } },
      [{ name: 'c', host: '::1', port: 5432, apiHost: '::1', apiPort: 9000 }], { socket });
    assert.match(t, /bind \[::1\]:5000/);
    assert.match(t, /server c \[::1\]:5432 check port 9000 inter 250ms fall 3 rise 1 /);
    assert.match(t, /timeout check 250ms/);
  });
  it('rejects bad member names, duplicates and hosts that could inject config', () => {
    const bad: RoutingMember[][] = [
      [{ ...members[0]!, name: 'A b' }],
      [members[0]!, members[0]!],
      [{ ...members[0]!, host: '10.0.0.1 backup' }],
      [{ ...members[0]!, apiHost: '10.0.0.1\nlisten x' }],
    ];
    for (const m of bad) assert.throws(() => renderHaproxyConfig(spec, m, { socket }), InvalidInputError);
  });
});

const paths: PoolerProcessPaths = {
  dir: '/run/r/pgbouncer-0', pidFile: '/run/r/pgbouncer-0/pgbouncer.pid',
  logFile: '/run/r/pgbouncer-0/pgbouncer.log', authFile: '/run/r/pgbouncer-userlist.txt',
};

/** key -> value of the [pgbouncer] section. */
function settings(ini: string): Map<string, string> {
  const section = ini.slice(ini.indexOf('[pgbouncer]'));
  const m = new Map<string, string>();
  for (const line of section.split('\n')) {
    const r = /^(\w+) = (.*)$/.exec(line);
    if (r) m.set(r[1] as string, r[2] as string);
  }
  return m;
}

describe('renderPgbouncerIni', () => {
  const ini = renderPgbouncerIni(spec, paths);
  it('maps <db> to the rw listener and <db>_ro to the ro listener with per-database pool modes', () => {
    const dbs = ini.slice(ini.indexOf('[databases]'), ini.indexOf('[pgbouncer]')).trim();
    assert.equal(dbs, [
      '[databases]',
      'app = host=127.0.0.1 port=5000 dbname=app pool_mode=transaction',
      'app_ro = host=127.0.0.1 port=5001 dbname=app pool_mode=transaction',
      'reports = host=127.0.0.1 port=5000 dbname=reports pool_mode=session',
      'reports_ro = host=127.0.0.1 port=5001 dbname=reports pool_mode=session',
    ].join('\n'));
  });
  it('sets the essentials', () => {
    const s = settings(ini);
    const want: [string, string][] = [
      ['listen_addr', '127.0.0.1'], ['listen_port', '6432'], ['so_reuseport', '1'],
      ['unix_socket_dir', '/run/r/pgbouncer-0'], ['pidfile', '/run/r/pgbouncer-0/pgbouncer.pid'],
      ['logfile', '/run/r/pgbouncer-0/pgbouncer.log'], ['auth_type', 'scram-sha-256'],
      ['auth_file', '/run/r/pgbouncer-userlist.txt'], ['admin_users', POOLER_ADMIN_USER], ['stats_users', POOLER_ADMIN_USER],
      ['pool_mode', 'transaction'], ['default_pool_size', '20'], ['reserve_pool_size', '5'], ['reserve_pool_timeout', '1'],
      ['max_client_conn', '5000'], ['ignore_startup_parameters', 'extra_float_digits'],
      ['server_login_retry', '0.1'], ['server_connect_timeout', '2'], ['server_check_delay', '1'],
      ['server_check_query', 'select 1'], ['query_wait_timeout', '15'],
    ];
    for (const [k, v] of want) assert.equal(s.get(k), v, k);
  });
  it('explains every failover setting in a comment right above it', () => {
    const lines = ini.split('\n');
    for (const k of ['server_login_retry', 'server_connect_timeout', 'server_check_delay', 'query_wait_timeout']) {
      const i = lines.findIndex((l) => l.startsWith(`${k} =`));
      assert.ok(lines[i - 1]?.startsWith(';'), k);
    }
  });
  it('lets queries wait longer than a switchover pause', () => {
    assert.equal(settings(renderPgbouncerIni({ ...spec, pauseTimeoutMs: 30_000 }, paths)).get('query_wait_timeout'), '40');
  });
  it('connects to HAProxy over loopback when listening on all addresses', () => {
    assert.equal(haproxyTarget({ listenAddress: '0.0.0.0' }), '127.0.0.1');
    assert.equal(haproxyTarget({ listenAddress: '10.1.1.1' }), '10.1.1.1');
    assert.match(renderPgbouncerIni({ ...spec, listenAddress: '0.0.0.0' }, paths), /^app = host=127\.0\.0\.1 port=5000 /m);
  });
  it('refuses paths that could break the ini', () => {
    assert.throws(() => renderPgbouncerIni(spec, { ...paths, dir: '/run/r x' }), InvalidInputError);
    assert.throws(() => renderPgbouncerIni(spec, { ...paths, logFile: 'relative.log' }), InvalidInputError);
  });
  it('holds no password', () => assert.doesNotMatch(ini, /password/i));
});

describe('renderUserlist', () => {
  it('quotes fields and doubles double quotes', () => {
    assert.equal(
      renderUserlist({ users: [{ user: 'app', password: 'p"w d' }], admin: { user: POOLER_ADMIN_USER, password: 'x' } }),
      '"app" "p""w d"\n"ballast_pooler" "x"\n',
    );
  });
  it('rejects newlines, empty passwords, duplicates and a foreign admin name', () => {
    const admin = { user: POOLER_ADMIN_USER, password: 'x' };
    assert.throws(() => renderUserlist({ users: [{ user: 'app', password: 'a\nb' }], admin }), InvalidInputError);
    assert.throws(() => renderUserlist({ users: [{ user: 'app', password: '' }], admin }), InvalidInputError);
    assert.throws(() => renderUserlist({ users: [{ user: 'app', password: 'a' }, { user: 'app', password: 'b' }], admin }), InvalidInputError);
    assert.throws(() => renderUserlist({ users: [], admin: { user: 'postgres', password: 'x' } }), InvalidInputError);
  });
});
