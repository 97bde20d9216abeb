// The read pool follows replication lag (`up --max-lag-ms 1000`): a standby whose replay is
// paused leaves the ro endpoint's pool about a second after its lag crosses the limit, no read
// is served from it while it is out, and it returns once it has caught up. Read-your-writes:
// ballast_wait_for_lsn() on a replica waits for the primary's position or says it cannot.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { TestCluster } from '../../src/testkit/cluster.js';
import { Writer } from '../../src/testkit/writer.js';
import { layoutOf } from '../../src/local/layout.js';
import { routerConfigs, routingLayoutOf } from '../../src/local/routing.js';
import { HaproxyAdmin } from '../../src/routing/haproxy-admin.js';
import { describeBackends } from '../../src/routing/router-decide.js';

const LIMIT_MS = 1000;
let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.start({ members: 3, upArgs: ['--max-lag-ms', String(LIMIT_MS)] });
});
after(async () => {
  await cluster?.stop();
});

function haproxy(): HaproxyAdmin {
  const cfg = routerConfigs(cluster.state(), layoutOf(cluster.dir))[0];
  assert.ok(cfg, 'router config');
  assert.equal(cfg.routing.maxLagMs, LIMIT_MS, 'the --max-lag-ms flag reached the router');
  return new HaproxyAdmin(routingLayoutOf(cfg).haproxySocket, { timeoutMs: 1000 });
}

async function roState(admin: HaproxyAdmin, member: string): Promise<string> {
  const b = describeBackends(await admin.showServersState()).find((x) => x.proxy === 'ro' && x.server === member);
  return b?.state ?? 'absent';
}

interface Read { startedAt: number; port: number }

/** `n` readers on the ro endpoint, each on its own connection, reconnecting after errors. */
function readers(n: number): { reads: Read[]; stop(): Promise<void> } {
  const reads: Read[] = [];
  let on = true;
  const one = async () => {
    while (on) {
      const c = new pg.Client({ connectionString: cluster.info.endpoints.ro, connectionTimeoutMillis: 2000, query_timeout: 2000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        while (on) {
          const startedAt = performance.now();
          const r = await c.query<{ port: number }>('SELECT inet_server_port() AS port');
          reads.push({ startedAt, port: r.rows[0]!.port });
          await new Promise((res) => setTimeout(res, 20));
        }
      } catch {
        await new Promise((res) => setTimeout(res, 50));
      } finally {
        await c.end().catch(() => undefined);
      }
    }
  };
  const all = Array.from({ length: n }, () => one());
  return { reads, stop: async () => { on = false; await Promise.all(all); } };
}

test('a standby beyond the lag limit leaves the read pool about a second after crossing it, serves no read while out, and returns after catching up', { timeout: 240_000 }, async () => {
  const d = await cluster.waitHealthy();
  const lagging = d.members.find((m) => m.role === 'async')!.name;
  const port = cluster.port(lagging);
  const admin = haproxy();
  await cluster.waitFor(`${lagging} in the read pool`, () => true, 1000);
  for (let i = 0; i < 100 && (await roState(admin, lagging)) !== 'up'; i++) await new Promise((r) => setTimeout(r, 200));
  assert.equal(await roState(admin, lagging), 'up', `${lagging} starts in the read pool`);

  const writer = new Writer(cluster.writerTarget());
  await writer.start();
  const rd = readers(6);
  try {
    await writer.waitForAcks(20);
    await cluster.superQuery(lagging, 'SELECT pg_wal_replay_pause()');
    const pausedAt = performance.now();
    // When the agent's published lag crosses the limit, and when HAProxy takes it out.
    let crossedAt: number | null = null;
    let leftAt: number | null = null;
    while (leftAt === null && performance.now() - pausedAt < 60_000) {
      if (crossedAt === null) {
        const s = (await cluster.memberStatuses()).find((m) => m.name === lagging);
        if (s?.lagMs != null && s.lagMs > LIMIT_MS) crossedAt = performance.now() - (s.lagMs - LIMIT_MS);
      }
      if ((await roState(admin, lagging)) !== 'up') leftAt = performance.now();
      else await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(leftAt !== null, `${lagging} never left the read pool with replay paused`);
    crossedAt ??= pausedAt + LIMIT_MS;
    const afterCrossing = leftAt - crossedAt;
    console.log(`${lagging}: replay paused; lag crossed ${LIMIT_MS} ms at +${Math.round(crossedAt - pausedAt)} ms, left the read pool ${Math.round(afterCrossing)} ms later`);
    assert.ok(afterCrossing < 3000, `left the pool ${Math.round(afterCrossing)} ms after crossing the limit (want about a second)`);

    // Out for a while: no read may be served by it.
    await new Promise((r) => setTimeout(r, 4000));
    assert.notEqual(await roState(admin, lagging), 'up', 'still out while replay is paused');
    await cluster.superQuery(lagging, 'SELECT pg_wal_replay_resume()');
    const resumedAt = performance.now();
    let backAt: number | null = null;
    while (backAt === null && performance.now() - resumedAt < 60_000) {
      if ((await roState(admin, lagging)) === 'up') backAt = performance.now();
      else await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(backAt !== null, `${lagging} did not return to the read pool after catching up`);
    console.log(`${lagging}: back in the read pool ${Math.round(backAt - resumedAt)} ms after replay resumed`);
    const whileOut = rd.reads.filter((r) => r.port === port && r.startedAt > leftAt! + 50 && r.startedAt < resumedAt);
    const others = rd.reads.filter((r) => r.startedAt > leftAt! && r.startedAt < resumedAt);
    console.log(`reads while out: ${others.length} in all, ${whileOut.length} from ${lagging}`);
    assert.ok(others.length > 0, 'the ro endpoint kept serving reads from the other standby');
    assert.equal(whileOut.length, 0, `reads served by ${lagging} while it was out of the pool`);
  } finally {
    await rd.stop();
    await writer.stop();
  }
});

test('read-your-writes: ballast_wait_for_lsn on a replica waits for the primary position, or returns false in time', { timeout: 120_000 }, async () => {
  const d = await cluster.waitHealthy();
  const standby = d.members.find((m) => m.role === 'async')!.name;
  const rw = new pg.Client({ connectionString: cluster.info.endpoints.rw });
  const ro = new pg.Client({ connectionString: cluster.info.endpoints.ro });
  await rw.connect();
  await ro.connect();
  try {
    await rw.query('CREATE TABLE IF NOT EXISTS ryw (id int PRIMARY KEY, v text)');
    for (let i = 1; i <= 20; i++) {
      await rw.query('INSERT INTO ryw VALUES ($1, $2)', [i, `v${i}`]);
      const [{ lsn }] = (await rw.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows as [{ lsn: string }];
      // Wait and read in one transaction: transaction pooling keeps both on one server.
      await ro.query('BEGIN');
      const ok = (await ro.query<{ ok: boolean }>('SELECT ballast_wait_for_lsn($1, 2000) AS ok', [lsn])).rows[0]!.ok;
      const row = (await ro.query<{ v: string }>('SELECT v FROM ryw WHERE id = $1', [i])).rows[0];
      await ro.query('COMMIT');
      assert.equal(ok, true, `write ${i}: a replica reached ${lsn}`);
      assert.equal(row?.v, `v${i}`, `write ${i} visible on the replica after the wait`);
    }
    // A replica that cannot catch up says so within the timeout instead of waiting forever.
    await cluster.superQuery(standby, 'SELECT pg_wal_replay_pause()');
    try {
      await rw.query('INSERT INTO ryw VALUES (1000, $1)', ['late']);
      const [{ lsn }] = (await rw.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows as [{ lsn: string }];
      const t0 = performance.now();
      const [row] = await cluster.queryUri<{ ok: boolean }>(cluster.memberUri(standby), `SELECT ballast_wait_for_lsn('${lsn}', 300) AS ok`, 5000);
      const waited = performance.now() - t0;
      assert.equal(row?.ok, false, 'a paused replica reports it has not reached the position');
      assert.ok(waited >= 250, `waited ${Math.round(waited)} ms, about the 300 ms asked`);
    } finally {
      await cluster.superQuery(standby, 'SELECT pg_wal_replay_resume()');
    }
    // On the primary it returns at once.
    const [p] = (await rw.query<{ ok: boolean }>("SELECT ballast_wait_for_lsn('0/0', 0) AS ok")).rows;
    assert.equal(p?.ok, true);
  } finally {
    await rw.end();
    await ro.end();
  }
});
