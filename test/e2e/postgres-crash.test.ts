// Acceptance item of the HA core: kill -9 of postgres alone on the primary (its agent stays).
// Policy (docs/ha-protocol.md): the agent restarts postgres in place (crash recovery, back-off);
// no failover unless postgres stays down for primaryRestartTimeoutMs AND the standbys cannot
// reach it. So: the same member stays primary (on the same timeline), writes resume, and no
// acknowledged write is lost, on the primary nor, after catch-up, on the standbys.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { TestCluster } from '../../src/testkit/cluster.js';
import { longestGap, outageAfter, Writer } from '../../src/testkit/writer.js';

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.start({ members: 3, restartDelayMs: 3000 });
});
after(async () => {
  await cluster?.stop();
});

test('kill -9 of postgres alone on the primary: restarted in place, no failover, no acknowledged write lost', async () => {
  const d0 = await cluster.waitHealthy();
  const primary = d0.members.find((m) => m.role === 'primary')!;
  const standbys = d0.members.filter((m) => m.name !== primary.name).map((m) => m.name);
  const oldPgPid = cluster.pids(primary.name).postmaster;
  assert.ok(oldPgPid, 'postmaster pid of the primary is known');

  const writer = new Writer(cluster.writerTarget());
  await writer.start();
  await writer.waitForAcks(50);
  const watch = cluster.watchView(100);

  const killedAt = performance.now();
  cluster.killPostgres(primary.name);

  try {
    // The agent notices and restarts postgres: a new postmaster, serving as primary again.
    await cluster.waitFor(`${primary.name} primary again with a new postmaster`, (d) => {
      const m = d.members.find((x) => x.name === primary.name);
      return m?.role === 'primary' && m.postgresPid !== null && m.postgresPid !== oldPgPid;
    }, 45_000);
    await writer.waitForAcks(200, 45_000);
    // Settle: the standbys stream again and the synchronous set is confirmed.
    await cluster.waitHealthy(60_000);
  } catch (e) {
    await writer.stop();
    await watch.stop();
    throw new Error(`${(e as Error).message}\n${await cluster.diagnostics()}`);
  }
  const samples = await watch.stop();
  const result = await writer.stop();
  const d1 = await cluster.describe();
  const diag = async () => cluster.diagnostics([primary.name]);

  // No failover: nobody else was ever named primary, and the primary stayed on its timeline.
  const others = samples.filter((s) => s.primary !== primary.name);
  assert.deepEqual(others.map((s) => `${s.generation}:${s.primary}`), [], `another member was named primary\n${await diag()}`);
  assert.equal(d1.view?.primary, primary.name, 'same primary afterwards');
  const p1 = d1.members.find((m) => m.name === primary.name)!;
  assert.equal(p1.role, 'primary');
  assert.equal(p1.timeline, primary.timeline, 'same timeline: crash recovery, not a promotion');
  const events = await cluster.events();
  assert.ok(!events.some((e) => /failover: primary .* failed|promoted to primary/.test(e)), `no failover event\n${events.join('\n')}`);
  assert.ok(events.some((e) => new RegExp(`postgres on ${primary.name} died unexpectedly`).test(e)), `the agent recorded the crash\n${events.join('\n')}`);

  // Writes resumed, none acknowledged is lost.
  const outage = outageAfter(result.acked, killedAt);
  assert.ok(outage !== null, `writes resumed after the crash\n${await diag()}`);
  const missing = await cluster.missingOn(primary.name, result.acked);
  assert.deepEqual(missing, [], `acknowledged writes lost on the primary: ${missing.length} of ${result.acked.length}`);
  for (const s of standbys) {
    const m = await cluster.waitNoneMissing(s, result.acked, 30_000);
    assert.deepEqual(m, [], `acknowledged writes missing on standby ${s} after catch-up: ${m.length}\n${await cluster.diagnostics([s])}`);
  }

  const gens = [...new Set(samples.map((s) => s.generation))];
  const gap = longestGap(result.acked, killedAt, result.acked[result.acked.length - 1]!.at);
  console.log(`postgres kill -9 on ${primary.name}: longest write gap ${gap.toFixed(0)} ms (first ack ${outage.toFixed(0)} ms after the kill), `
    + `${result.acked.length} acknowledged writes, ${result.failures.length} failed attempts, view generations seen ${gens.join(',')}`);
});
