// Routing stack against real binaries: PostgreSQL 15, HAProxy 2.6 and two PgBouncer 1.18
// processes sharing one port. Two "members" (a, b) point at the same postgres, each with its own
// fake agent health API (fastify, like the real agent) whose /primary and /replica the test
// toggles, so HAProxy's routing decisions can be observed without a whole cluster.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { pino } from 'pino';
import { agentConfigSchema, parseConfig, type Secrets } from '../../src/domain/config.js';
import { TimeoutError } from '../../src/domain/errors.js';
import { PostgresControl } from '../../src/agent/postgres-control.js';
import { runCommand } from '../../src/agent/run-as.js';
import { isUp, type HaproxyAdmin } from '../../src/routing/haproxy-admin.js';
import { pauseAll, resumeAll, type PgbouncerAdmin } from '../../src/routing/pgbouncer-admin.js';
import {
  haproxyAdmin, poolerAdmins, routingPids, startRouting, stopRouting, type RoutingLayout,
} from '../../src/routing/processes.js';
import { POOLER_ADMIN_USER, parseRoutingSpec, type RoutingMember, type RoutingSpec } from '../../src/routing/routing-types.js';
import { freePorts } from '../../src/testkit/ports.js';
import { makeTempDir, removeTempDir } from '../../src/testkit/tmp.js';

const log = pino({ level: process.env.BALLAST_LOG_LEVEL ?? 'silent' });
const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench';

interface FakeAgent {
  app: FastifyInstance;
  primary: boolean;
  replica: boolean;
  replicaQueries: string[];
}

async function startFakeAgent(port: number): Promise<FakeAgent> {
  const app = Fastify({ logger: false });
  const agent: FakeAgent = { app, primary: false, replica: false, replicaQueries: [] };
  app.get('/primary', async (_req, res) => res.code(agent.primary ? 200 : 503).send({ ok: agent.primary }));
  app.get('/replica', async (req, res) => {
    agent.replicaQueries.push(req.url);
    return res.code(agent.replica ? 200 : 503).send({ ok: agent.replica });
  });
  await app.listen({ host: '127.0.0.1', port });
  return agent;
}

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | null | false | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v !== null && v !== false && v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Settles within ms? (true if it did). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true, () => true), t]);
  } finally {
    clearTimeout(timer);
  }
}

describe('routing stack (PostgreSQL 15 + HAProxy 2.6 + 2 PgBouncer 1.18)', { timeout: 90_000 }, () => {
  let dir = '';
  let secrets: Secrets;
  let pgctl: PostgresControl | null = null;
  let spec: RoutingSpec;
  let layout: RoutingLayout | null = null;
  let haproxy: HaproxyAdmin;
  let poolers: PgbouncerAdmin[] = [];
  let members: RoutingMember[] = [];
  const agents: Record<string, FakeAgent> = {};
  const adminPassword = randomBytes(18).toString('base64url');
  const clients: pg.Client[] = [];

  const appClient = async (database = 'app', password = secrets.appPassword, port = spec.poolerPort) => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'app', password, database, connectionTimeoutMillis: 5000 });
    c.on('error', () => undefined);
    clients.push(c);
    await c.connect();
    return c;
  };
  const rwState = async (server: string) => (await haproxy.showServersState('rw')).find((s) => s.server === server);

  before(async () => {
    dir = await makeTempDir('ballast-routing-');
    const [pgPort, apiA, apiB, rwPort, roPort, poolerPort] = (await freePorts(6)) as number[];
    secrets = { superuserPassword: 'su-pass-0123456789', replicationPassword: 'repl-pass-0123456789', appPassword: 'app-pass-0123456789"quote' };
    const secretsFile = join(dir, 'secrets.json');
    await writeFile(secretsFile, JSON.stringify(secrets), { mode: 0o600 });
    const cfg = parseConfig(agentConfigSchema, {
      cluster: 'test', name: 'a', host: '127.0.0.1', port: pgPort, apiHost: '127.0.0.1', apiPort: apiA,
      dataDir: join(dir, 'a', 'data'), runDir: join(dir, 'a', 'run'), etcd: ['http://127.0.0.1:2379'], secretsFile,
      pgParameters: { shared_buffers: '32MB', max_connections: '60' },
    }, 'agent config');
    pgctl = new PostgresControl(cfg, secrets, log);
    await pgctl.initdb();
    await pgctl.writeStaticConfig();
    await pgctl.writeDynamicConfig({ kind: 'primary', syncStandbys: [] });
    await pgctl.start(30_000);
    await pgctl.ensureRoles();

    agents.a = await startFakeAgent(apiA as number);
    agents.b = await startFakeAgent(apiB as number);
    agents.a.primary = true;
    members = [
      { name: 'a', host: '127.0.0.1', port: pgPort as number, apiHost: '127.0.0.1', apiPort: apiA as number },
      { name: 'b', host: '127.0.0.1', port: pgPort as number, apiHost: '127.0.0.1', apiPort: apiB as number },
    ];
    spec = parseRoutingSpec({
      rwPort, roPort, poolerPort, poolerProcesses: 2, maxLagBytes: 1048576,
      healthCheck: { intervalMs: 200, fall: 2, rise: 2 }, defaultPoolSize: 10,
    });
    layout = await startRouting({
      spec, members, runDir: join(dir, 'routing'),
      credentials: { users: [{ user: 'app', password: secrets.appPassword }], admin: { user: POOLER_ADMIN_USER, password: adminPassword } },
    });
    haproxy = haproxyAdmin(layout);
    poolers = poolerAdmins(layout, { user: POOLER_ADMIN_USER, password: adminPassword });
    await waitFor('rw/a up', 5000, async () => {
      const s = await rwState('a');
      return s !== undefined && isUp(s);
    });
  });

  after(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
    if (layout) {
      const pids = await routingPids(layout);
      await stopRouting(layout);
      const left = await routingPids(layout);
      assert.deepEqual(left, { haproxy: null, poolers: layout.poolers.map(() => null) }, `still running after stop: ${JSON.stringify(left)} (were ${JSON.stringify(pids)})`);
    }
    for (const a of Object.values(agents)) await a.app.close();
    if (pgctl) {
      await pgctl.close();
      await pgctl.stop('fast', 10_000).catch(() => undefined);
      const pid = await pgctl.postmasterPid();
      if (pid !== null) process.kill(pid, 'SIGKILL');
    }
    if (dir && !process.env.KEEP_TMP) await removeTempDir(dir);
  });

  it('writes secrets only to 0600 files and never to argv', async () => {
    assert.ok(layout);
    const files = [layout.authFile, layout.haproxyConfig, ...layout.poolers.map((p) => p.config)];
    for (const f of files) assert.equal((await stat(f)).mode & 0o777, 0o600, f);
    assert.equal((await stat(layout.runDir)).mode & 0o777, 0o700);
    const pids = await routingPids(layout);
    assert.ok(pids.haproxy !== null && pids.poolers.every((p) => p !== null), JSON.stringify(pids));
    for (const pid of [pids.haproxy, ...pids.poolers]) {
      const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      assert.ok(!argv.includes(secrets.appPassword) && !argv.includes(adminPassword), `secret in argv of ${pid}`);
      if (process.getuid?.() === 0) assert.notEqual((await stat(`/proc/${pid}`)).uid, 0, `pid ${pid} runs as root`);
    }
    const ini = await readFile(layout.poolers[0]!.config, 'utf8');
    assert.ok(!ini.includes(secrets.appPassword));
  });

  it('reaches postgres through PgBouncer -> HAProxy rw with SCRAM; wrong passwords are refused', async () => {
    const c = await appClient();
    const r = await c.query<{ u: string; port: number; rec: boolean }>('SELECT current_user AS u, inet_server_port() AS port, pg_is_in_recovery() AS rec');
    assert.deepEqual(r.rows[0], { u: 'app', port: members[0]!.port, rec: false });
    await assert.rejects(appClient('app', 'wrong-password-123'), /password authentication failed|SASL/);
    // The ro endpoint: no replica is healthy, so reads fall back to the primary (backup tracking rw/a).
    const ro = await appClient('app_ro');
    assert.equal((await ro.query('SELECT 1 AS one')).rows[0].one, 1);
    assert.ok(agents.a!.replicaQueries.some((q) => q === '/replica?max_lag_bytes=1048576&max_lag_ms=60000'), agents.a!.replicaQueries[0]);
  });

  it('runs pgbench -i and pgbench -c 8 -T 3 -S through the pooler port (both processes serve)', async () => {
    const passfile = join(dir, 'pgpass');
    await writeFile(passfile, `*:*:*:app:${secrets.appPassword.replace(/\\/g, '\\\\').replace(/:/g, '\\:')}\n`, { mode: 0o600 });
    const conn = ['-h', '127.0.0.1', '-p', String(spec.poolerPort), '-U', 'app'];
    const env = { PGPASSFILE: passfile };
    await runCommand(PGBENCH, ['-i', '-s', '1', '-q', ...conn, 'app'], { identity: null, timeoutMs: 60_000, env, redact: [secrets.appPassword] });
    const { stdout } = await runCommand(PGBENCH, ['-c', '8', '-j', '2', '-T', '3', '-S', ...conn, 'app'], { identity: null, timeoutMs: 30_000, env });
    const processed = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? 0);
    assert.ok(processed > 100, stdout);
    assert.match(stdout, /number of failed transactions: 0 /);
    // SO_REUSEPORT spreads connections: with 16 at once, both processes get some (p(fail) = 2^-15).
    const many = await Promise.all(Array.from({ length: 16 }, () => appClient()));
    await Promise.all(many.map((c) => c.query('SELECT 1')));
    const perProcess = await Promise.all(poolers.map(async (p) => (await p.showClients()).filter((c) => c.user === 'app').length));
    assert.ok(perProcess.every((n) => n > 0), `clients per pooler process: ${perProcess.join(', ')}`);
    const pools = (await Promise.all(poolers.map((p) => p.showPools()))).flat();
    assert.ok(pools.some((p) => p.database === 'app' && p.user === 'app' && p.poolMode === 'transaction'), JSON.stringify(pools));
    for (const c of many) await c.end();
  });

  it('follows the health checks, and the runtime API takes effect at once', async () => {
    const t0 = Date.now();
    agents.a!.primary = false;
    agents.b!.primary = true;
    await waitFor('rw/a down and rw/b up', 5000, async () => {
      const [a, b] = [await rwState('a'), await rwState('b')];
      return a !== undefined && b !== undefined && !isUp(a) && isUp(b);
    });
    const tookMs = Date.now() - t0;
    assert.ok(tookMs < 2000, `checks took ${tookMs} ms (interval 200 ms, fall 2, rise 2)`);

    // Runtime API: maint is immediate; with its sessions shut down rw has no server at all.
    const t1 = Date.now();
    await haproxy.setServerState('rw', 'b', 'maint');
    await haproxy.shutdownSessions('rw', 'b');
    const b = await rwState('b');
    assert.ok(b && !isUp(b) && (b.adminState & 1) === 1, JSON.stringify(b));
    // A query now has no server: it waits in the pooler (no error) ...
    const waiting = (await appClient()).query('SELECT 42 AS answer');
    assert.equal(await settlesWithin(waiting, 800), false, 'no rw server: the query must wait');

    // The coordinator's view names b (promoted): follow() makes rw/b serve at once.
    const plan = await haproxy.follow({ primary: 'b', primaryReady: true }, members);
    assert.ok(plan.commands.includes('set server rw/b state ready'), JSON.stringify(plan));
    assert.ok(plan.commands.includes('set server rw/a state maint') && plan.commands.includes('shutdown sessions server rw/a'), JSON.stringify(plan));
    const after = await rwState('b');
    assert.ok(after && isUp(after), JSON.stringify(after));
    // ... and completes as soon as the runtime API routes rw to b again.
    assert.equal((await waiting).rows[0].answer, 42);
    assert.ok(Date.now() - t1 < 3000, `waited ${Date.now() - t1} ms`);
    const again = await haproxy.follow({ primary: 'b', primaryReady: true }, members);
    assert.deepEqual(again.commands, [], again.reason);
    await waitFor('a client through the pooler again', 3000, async () => (await (await appClient()).query('SELECT 1')).rowCount === 1);
  });

  it('pauseAll waits for in-flight transactions, holds new queries, resumeAll releases them', async () => {
    const inTx = await appClient();
    const other = await appClient();
    await other.query('SELECT 1');
    await inTx.query('BEGIN');
    await inTx.query('SELECT 1');
    const pausing = pauseAll(poolers, 5000);
    assert.equal(await settlesWithin(pausing, 400), false, 'PAUSE must wait for the open transaction');
    await inTx.query('COMMIT');
    await pausing;
    const held = other.query('SELECT 2 AS two');
    assert.equal(await settlesWithin(held, 400), false, 'queries wait while paused');
    await resumeAll(poolers);
    assert.equal((await held).rows[0].two, 2);
  });

  it('pauseAll aborts cleanly on timeout: everything is resumed', async () => {
    const inTx = await appClient();
    await inTx.query('BEGIN');
    await inTx.query('SELECT 1');
    const t0 = Date.now();
    await assert.rejects(pauseAll(poolers, 500), TimeoutError);
    assert.ok(Date.now() - t0 < 3000);
    const other = await appClient();
    assert.equal((await other.query('SELECT 3 AS three')).rows[0].three, 3);
    await inTx.query('COMMIT');
    // Pausing works again after an abort.
    await pauseAll(poolers, 5000);
    await resumeAll(poolers);
  });
});
