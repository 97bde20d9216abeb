// Acceptance 1 and 2 of the HA core: a cluster comes up with primary/sync/async and replicates;
// a host crash of the primary under continuous writes loses no acknowledged write, a new primary
// takes writes, and the old member comes back through the supervisor as a standby via pg_rewind
// on the new timeline.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { TestCluster } from '../../src/testkit/cluster.js';
import { longestGap, Writer } from '../../src/testkit/writer.js';

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.start({ members: 3, restartDelayMs: 3000 });
});
after(async () => {
  await cluster?.stop();
});

test('cluster comes up: primary, sync, async; writes reach both standbys', async () => {
  const d = await cluster.waitHealthy();
  const roles = d.members.map((m) => m.role).sort();
  assert.deepEqual(roles, ['async', 'primary', 'sync']);
  const primary = d.members.find((m) => m.role === 'primary')!.name;
  await cluster.query(primary, 'CREATE TABLE smoke(id int PRIMARY KEY, v text)');
  await cluster.query(primary, "INSERT INTO smoke SELECT g, 'v' || g FROM generate_series(1, 500) g");
  for (const m of d.members.filter((x) => x.role !== 'primary')) {
    // The sync standby has it at once (it acknowledged the commit); the async catches up.
    await cluster.waitFor(`${m.name} replays the rows`, () => true, 1000);
    let count = 0;
    for (let i = 0; i < 50 && count !== 500; i++) {
      count = Number((await cluster.query<{ n: string }>(m.name, 'SELECT count(*) AS n FROM smoke'))[0]!.n);
      if (count !== 500) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(count, 500, `${m.name} (${m.role}) has all rows`);
    const ro = await cluster.query<{ r: boolean }>(m.name, 'SELECT pg_is_in_recovery() AS r');
    assert.equal(ro[0]!.r, true);
  }
  // status --json contract
  const st = d.members[0]!;
  for (const k of ['name', 'role', 'host', 'port', 'timeline', 'lsn', 'lagBytes', 'agentPid', 'postgresPid']) assert.ok(k in st, `status has ${k}`);
});

test('host crash of the primary under writes: failover, zero acknowledged writes lost, old primary rejoins via pg_rewind', async () => {
  const before = await cluster.waitHealthy();
  const oldPrimary = before.members.find((m) => m.role === 'primary')!.name;
  const oldTimeline = before.members.find((m) => m.role === 'primary')!.timeline!;
  const syncName = before.view!.syncConfirmed[0]!;
  const writer = new Writer(cluster.writerTarget());
  await writer.start();
  await writer.waitForAcks(50);

  const killedAt = performance.now();
  cluster.killHost(oldPrimary);

  const d = await cluster.waitFor('a new primary', (x) => x.members.some((m) => m.role === 'primary' && m.name !== oldPrimary), 30_000);
  const newPrimary = d.members.find((m) => m.role === 'primary')!.name;
  assert.equal(newPrimary, syncName, 'the confirmed synchronous standby was promoted');
  await writer.waitForAcks(50);

  // The supervisor restarts the agent (3 s), which rewinds and follows the new primary.
  const healed = await cluster.waitFor(`${oldPrimary} back as a standby`, (x) => {
    const m = x.members.find((y) => y.name === oldPrimary);
    return m !== undefined && (m.role === 'sync' || m.role === 'async');
  }, 90_000);
  const result = await writer.stop();
  const old = healed.members.find((m) => m.name === oldPrimary)!;
  assert.equal(old.rejoin?.method, 'rewind', `rejoined via ${old.rejoin?.method}: ${old.rejoin?.reason}`);
  assert.equal(old.rejoin?.result, 'ok');
  assert.ok((old.timeline ?? 0) > oldTimeline, `old primary follows the new timeline (${old.timeline} > ${oldTimeline})`);

  const outage = longestGap(result.acked, killedAt, result.acked[result.acked.length - 1]!.at);
  assert.ok(result.acked.some((a) => a.at > killedAt + outage), 'writes resumed');
  const missing = await cluster.missingOn(newPrimary, result.acked);
  assert.deepEqual(missing, [], `acknowledged writes lost: ${missing.length} of ${result.acked.length}`);
  // Once the old primary has caught up, it holds every acknowledged write too.
  await cluster.waitFor('old primary caught up', (x) => (x.members.find((m) => m.name === oldPrimary)?.lagBytes ?? 1) === 0, 30_000);
  assert.deepEqual(await cluster.missingOn(oldPrimary, result.acked), []);
  const events = await cluster.events();
  assert.ok(events.some((e) => /failover: primary .* failed/.test(e)), 'failover reason recorded');
  console.log(`failover write outage ${outage.toFixed(0)} ms, ${result.acked.length} acknowledged writes, ${result.failures.length} failed attempts`);
});
