// PostgresControl against real PostgreSQL 15: bootstrap a primary, clone a standby, synchronous
// replication, failover by promotion, rejoin of the old primary with pg_rewind, failing rewind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import {
  agentConfigSchema, loadJsonFile, parseConfig, secretsSchema, APP_DATABASE, APP_USER, type AgentConfig, type Secrets,
} from '../../src/domain/config.js';
import { CommandFailedError } from '../../src/domain/errors.js';
import { PostgresControl } from '../../src/agent/postgres-control.js';
import { slotName, type Upstream } from '../../src/agent/pg-control.js';
import { walRemovedOnUpstream } from '../../src/agent/pg-log.js';
import { parseTimelineHistory } from '../../src/agent/timeline.js';
import { compareLsn } from '../../src/domain/lsn.js';
import { freePorts } from '../../src/testkit/ports.js';
import { makeTempDir, removeTempDir } from '../../src/testkit/tmp.js';

const log = pino({ level: process.env.BALLAST_LOG_LEVEL ?? 'silent' });

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | null | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Run SQL as the superuser over a member's unix socket (peer authentication, mapped). */
async function sql(cfg: AgentConfig, text: string, database = 'postgres'): Promise<pg.QueryResult> {
  const c = new pg.Client({ host: cfg.runDir, port: cfg.port, user: 'postgres', database, connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await c.query(text);
  } finally {
    await c.end().catch(() => undefined);
  }
}

describe('PostgresControl (real PostgreSQL 15)', { timeout: 120_000 }, () => {
  let dir = '';
  let secrets: Secrets;
  let cfgA: AgentConfig;
  let cfgB: AgentConfig;
  let a: PostgresControl;
  let b: PostgresControl;
  let upA: Upstream;
  let upB: Upstream;
  const started = new Set<number>();

  const remember = async (ctl: PostgresControl) => {
    const pid = await ctl.postmasterPid();
    assert.ok(pid !== null, 'postmaster pid after start');
    started.add(pid);
  };

  before(async () => {
    dir = await makeTempDir('ballast-pgctl-');
    const [portA, portB, apiA, apiB] = await freePorts(4);
    const secretsFile = join(dir, 'secrets.json');
    await writeFile(secretsFile, JSON.stringify({
      superuserPassword: 'su-pass-0123456789:with\\odd',
      replicationPassword: 'repl-pass-0123456789',
      appPassword: "app-pass-0123456789'quote",
    }), { mode: 0o600 });
    secrets = loadJsonFile(secretsSchema, secretsFile, 'secrets');
    const cfg = (name: string, port: number, apiPort: number) => parseConfig(agentConfigSchema, {
      cluster: 'test', name, host: '127.0.0.1', port, apiHost: '127.0.0.1', apiPort,
      dataDir: join(dir, name, 'data'), runDir: join(dir, name, 'run'),
      etcd: ['http://127.0.0.1:2379'], secretsFile, pgParameters: { shared_buffers: '32MB' },
    }, 'agent config');
    cfgA = cfg('a', portA as number, apiA as number);
    cfgB = cfg('b', portB as number, apiB as number);
    a = new PostgresControl(cfgA, secrets, log);
    b = new PostgresControl(cfgB, secrets, log);
    upA = { name: 'a', host: '127.0.0.1', port: cfgA.port };
    upB = { name: 'b', host: '127.0.0.1', port: cfgB.port };
  });

  after(async () => {
    for (const ctl of [a, b]) {
      if (!ctl) continue;
      await ctl.close();
      const pid = await ctl.postmasterPid();
      if (pid === null) continue;
      await ctl.stop('fast', 5000).catch(() => undefined);
      if ((await ctl.postmasterPid()) !== null) process.kill(pid, 'SIGKILL');
    }
    for (const pid of started) {
      try {
        process.kill(pid, 0);
        process.kill(pid, 'SIGKILL'); // last resort, by the pid we started
      } catch {
        // already gone
      }
    }
    if (dir && !process.env.KEEP_TMP) await removeTempDir(dir);
  });

  it('bootstraps a primary', async () => {
    assert.equal(await a.hasDataDir(), false);
    await a.initdb();
    assert.equal(await a.hasDataDir(), true);
    await a.writeStaticConfig();
    assert.equal(await a.writeDynamicConfig({ kind: 'primary', syncStandbys: [] }), true);
    assert.equal(await a.writeDynamicConfig({ kind: 'primary', syncStandbys: [] }), false);
    const st = await stat(cfgA.dataDir);
    assert.equal(st.mode & 0o777, 0o700);
    assert.equal((await stat(join(cfgA.runDir, 'pgpass'))).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(cfgA.runDir), ['pgpass'], 'initdb password file removed');
    await a.start(20_000);
    await remember(a);
    const o = await a.observe();
    assert.equal(o.inRecovery, false);
    assert.equal(o.timeline, 1);
    assert.match(o.systemId, /^\d+$/);
    assert.deepEqual(o.syncStandbyNames, []);
    assert.ok(o.currentLsn !== null && o.receiver === null);
    const cd = await a.controlData();
    assert.equal(cd.state, 'in production');
    assert.equal(cd.systemId, o.systemId);
    assert.match(cd.checkpointLsn, /^[0-9A-F]+\/[0-9A-F]+$/);
  });

  it('creates roles idempotently with working SCRAM verifiers', async () => {
    await a.ensureRoles();
    await a.ensureRoles();
    const roles = await sql(cfgA, "SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ('postgres','replicator','app') ORDER BY 1");
    assert.equal(roles.rows.length, 3);
    for (const r of roles.rows) assert.match(r.rolpassword as string, /^SCRAM-SHA-256\$4096:/);
    const app = new pg.Client({ host: '127.0.0.1', port: cfgA.port, user: APP_USER, password: secrets.appPassword, database: APP_DATABASE });
    await app.connect();
    const who = await app.query('SELECT current_user AS u, current_database() AS d');
    await app.end();
    assert.deepEqual(who.rows[0], { u: 'app', d: 'app' });
    const bad = new pg.Client({ host: '127.0.0.1', port: cfgA.port, user: APP_USER, password: 'wrong-password-123', database: APP_DATABASE });
    await assert.rejects(bad.connect());
    assert.equal(await b.probe(upA, 2000), true);
    assert.equal(await b.probe({ name: 'x', host: '127.0.0.1', port: cfgB.port }, 1000), false);
  });

  it('clones a standby that streams from the primary', async () => {
    await a.syncSlots([slotName('b')]);
    const lines: string[] = [];
    await b.basebackup(upA, (l) => lines.push(l));
    assert.ok(lines.length > 0, 'pg_basebackup -P reported progress');
    assert.equal((await stat(cfgB.dataDir)).mode & 0o777, 0o700);
    assert.equal(await b.writeDynamicConfig({ kind: 'standby', upstream: upA }), false, 'basebackup already made it a standby');
    await b.start(20_000);
    await remember(b);
    const peer = await waitFor('b streaming from a', 15_000, async () =>
      (await a.observe()).replication.find((p) => p.name === 'b' && p.state === 'streaming'));
    assert.equal(peer.syncState, 'async');
    const ob = await b.observe();
    assert.equal(ob.inRecovery, true);
    assert.equal(ob.timeline, 1);
    assert.equal(ob.receiver?.status, 'streaming');
    assert.equal(ob.receiver?.senderPort, cfgA.port);
    assert.equal(ob.systemId, (await a.observe()).systemId);
    assert.deepEqual((await a.observe()).slots, ['ballast_b']);
  });

  it('replicates synchronously', async () => {
    assert.equal(await a.writeDynamicConfig({ kind: 'primary', syncStandbys: ['b'] }), true);
    await a.reload();
    await waitFor('b synchronous', 10_000, async () => {
      const o = await a.observe();
      return o.syncStandbyNames.join() === 'b' && o.replication.some((p) => p.name === 'b' && p.syncState === 'sync');
    });
    await sql(cfgA, 'CREATE TABLE acked (id int primary key)');
    await sql(cfgA, 'INSERT INTO acked VALUES (1)');
    await waitFor('row on b', 5_000, async () => (await sql(cfgB, 'SELECT count(*)::int AS n FROM acked')).rows[0]?.n === 1);
  });

  it('restarts its own walreceiver, and nothing else', async () => {
    assert.equal(await a.restartWalReceiver(), null, 'a primary has no walreceiver');
    const pid = await b.restartWalReceiver();
    assert.ok(pid, 'signalled the walreceiver');
    await waitFor('a new walreceiver streaming', 15_000, async () => {
      if ((await b.observe()).receiver?.status !== 'streaming') return false;
      const again = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      return !again.includes('walreceiver');
    });
    const end = await b.logEnd(4096);
    assert.ok(end.length <= 4096 && end.includes('started streaming WAL from primary'), 'the end of its log shows the new stream');
    assert.equal(walRemovedOnUpstream(end), false);
  });

  it('fails over to b and rejoins a with pg_rewind', async () => {
    await a.stop('immediate', 5_000);
    assert.equal(await a.postmasterPid(), null);
    await b.promote(10_000);
    const ob = await b.observe();
    assert.equal(ob.inRecovery, false);
    assert.equal(ob.timeline, 2);
    const history = parseTimelineHistory((await b.timelineHistory(2)) ?? '');
    assert.equal(history.length, 1);
    assert.equal(history[0]?.tli, 1);
    assert.ok(compareLsn(history[0]!.switchLsn, ob.currentLsn) <= 0, 'timeline 1 ended before where b writes now');
    assert.equal(await b.timelineHistory(7), null);
    assert.equal((await sql(cfgB, 'SELECT count(*)::int AS n FROM acked')).rows[0]?.n, 1, 'acknowledged row survived');
    await b.writeDynamicConfig({ kind: 'primary', syncStandbys: [] });
    await b.reload();
    await b.syncSlots([slotName('a')]);
    await sql(cfgB, 'INSERT INTO acked VALUES (2)');

    await a.rewind(upB);
    assert.equal(await a.writeDynamicConfig({ kind: 'standby', upstream: upB }), false);
    await a.start(20_000);
    await remember(a);
    await waitFor('a streaming from b', 15_000, async () =>
      (await b.observe()).replication.some((p) => p.name === 'a' && p.state === 'streaming'));
    const oa = await waitFor('a on timeline 2', 10_000, async () => {
      const o = await a.observe();
      return o.timeline === 2 ? o : null;
    });
    assert.equal(oa.inRecovery, true);
    assert.equal(oa.receiver?.receivedTli, 2);
    await waitFor('row 2 on a', 5_000, async () => (await sql(cfgA, 'SELECT count(*)::int AS n FROM acked')).rows[0]?.n === 2);
    const cd = await b.controlData();
    assert.equal(cd.state, 'in production');
    assert.equal(cd.systemId, ob.systemId);
  });

  it('reports a failing pg_rewind as CommandFailedError', async () => {
    await a.stop('immediate', 5_000);
    const wal = join(cfgA.dataDir, 'pg_wal');
    for (const f of await readdir(wal)) if (/^[0-9A-F]{24}$/.test(f)) await rm(join(wal, f));
    await assert.rejects(a.rewind(upB), (e: unknown) => {
      assert.ok(e instanceof CommandFailedError, `got ${String(e)}`);
      assert.match(e.message, /pg_rewind failed/);
      for (const s of Object.values(secrets)) assert.ok(!e.message.includes(s), 'no secret in the error');
      return true;
    });
    assert.ok(existsSync(join(cfgA.dataDir, 'standby.signal')), 'a failed rewind leaves the member a standby');
  });

  it('keeps secrets out of config files, logs and world-readable files', async () => {
    for (const cfg of [cfgA, cfgB]) {
      for (const f of [join(cfg.dataDir, 'ballast-dynamic.conf'), join(cfg.dataDir, 'postgresql.conf'), join(cfg.runDir, 'postgres.log')]) {
        const text = await readFile(f, 'utf8');
        for (const s of Object.values(secrets)) assert.ok(!text.includes(s), `secret found in ${f}`);
      }
      const pass = await stat(join(cfg.runDir, 'pgpass'));
      assert.equal(pass.mode & 0o077, 0, 'passfile is private');
    }
  });
});
