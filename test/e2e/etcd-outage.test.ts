// An etcd outage alone must not cause a failover or stop writes: the primary keeps its role
// through the failsafe quorum of peer agents (docs/ha-protocol.md, "What the primary does while
// etcd is unreachable"), and when etcd returns the cluster converges with the same primary.
// etcd is frozen with SIGSTOP (a killed etcd would be restarted by the supervisor at once).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestCluster } from '../../src/testkit/cluster.js';
import { longestGap, Writer } from '../../src/testkit/writer.js';

const OUTAGE_MS = 30_000;
const WINDOW_MS = 5_000;

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.start({ members: 3, restartDelayMs: 3000 });
});
after(async () => {
  await cluster?.stop();
});

/** Which members' postgres accept writes right now (read directly, not through etcd). */
async function writable(names: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const n of names) {
    try {
      const r = await cluster.query<{ r: boolean }>(n, 'SELECT pg_is_in_recovery() AS r');
      if (r[0]?.r === false) out.push(n);
    } catch {
      /* down or unreachable: not writable */
    }
  }
  return out;
}

test('etcd stopped for 30 s under writes: no failover; converges after etcd returns', { timeout: 5 * 60_000 }, async () => {
  const before = await cluster.waitHealthy();
  const primary = before.members.find((m) => m.role === 'primary')!.name;
  const names = before.members.map((m) => m.name);
  const viewBefore = (await cluster.view())!;
  const eventsBefore = await cluster.events(1000);
  const postmaster = cluster.pids(primary).postmaster;
  assert.ok(postmaster, 'primary postmaster pid known');

  const writer = new Writer(cluster.writerTarget());
  await writer.start();
  await writer.waitForAcks(20);

  const frozenAt = performance.now();
  cluster.freezeEtcd('SIGSTOP');
  const writableSeen = new Set<string>();
  let thawedAt: number;
  try {
    while (performance.now() - frozenAt < OUTAGE_MS) {
      for (const n of await writable(names)) writableSeen.add(n);
      await sleep(1000);
    }
  } finally {
    cluster.freezeEtcd('SIGCONT');
    thawedAt = performance.now();
  }

  // During the outage: writes kept being acknowledged in every window, by the same postgres.
  const acked = writer.result.acked;
  const windows: string[] = [];
  for (let t = frozenAt; t + WINDOW_MS <= thawedAt; t += WINDOW_MS) {
    const n = acked.filter((a) => a.at > t && a.at <= t + WINDOW_MS).length;
    windows.push(`${((t - frozenAt) / 1000).toFixed(0)}s:${n}`);
  }
  const during = acked.filter((a) => a.at > frozenAt && a.at <= thawedAt).length;
  const gap = longestGap(acked, frozenAt, thawedAt);
  console.log(`etcd outage ${((thawedAt - frozenAt) / 1000).toFixed(1)} s: ${during} writes acknowledged, longest ack gap ${gap.toFixed(0)} ms, per ${WINDOW_MS / 1000} s window [${windows.join(' ')}]`);
  assert.ok(windows.every((w) => !w.endsWith(':0')), `writes acknowledged in every ${WINDOW_MS / 1000} s window of the outage: ${windows.join(' ')}`);
  assert.deepEqual([...writableSeen], [primary], 'only the primary was ever writable during the outage');
  assert.equal(cluster.pids(primary).postmaster, postmaster, 'the primary postgres was never stopped (no fencing)');

  // After etcd returns: healthy again with the same primary, no failover. Statuses written
  // before the outage may still be readable for a moment, so "healthy" counts only once every
  // member has republished since etcd came back and a coordinator leads again.
  const thawedWall = performance.timeOrigin + thawedAt;
  const healed = await cluster.waitHealthy(45_000);
  const deadline = performance.now() + 45_000;
  for (;;) {
    const statuses = await cluster.memberStatuses().catch(() => []);
    const d = await cluster.describe().catch(() => null);
    if (statuses.length === names.length && statuses.every((m) => m.at > thawedWall) && d?.coordinator) break;
    assert.ok(performance.now() < deadline, `members did not republish after etcd returned: ${JSON.stringify(statuses.map((m) => [m.name, m.at - thawedWall]))}`);
    await sleep(200);
  }
  const converged = await cluster.waitHealthy(45_000);
  console.log(`healthy again, every member republished, ${((performance.now() - thawedAt) / 1000).toFixed(1)} s after etcd returned`);
  // Give the coordinator well past its settle time to (wrongly) judge anything, under writes.
  await sleep(5000);
  await writer.waitForAcks(20);
  assert.equal(converged.members.find((m) => m.role === 'primary')!.name, primary, 'same primary after convergence');
  const result = await writer.stop();
  assert.equal(healed.members.find((m) => m.role === 'primary')!.name, primary, 'same primary');
  const viewAfter = (await cluster.view())!;
  assert.equal(viewAfter.primary, primary);
  assert.equal(viewAfter.primarySince, viewBefore.primarySince, `the view never named another primary (generation ${viewBefore.generation} -> ${viewAfter.generation}: ${viewAfter.reason})`);
  const newEvents = (await cluster.events(1000)).slice(eventsBefore.length);
  assert.ok(!newEvents.some((e) => /failover|promoted|fenc/i.test(e)), `no failover, promotion or fencing event: ${newEvents.join(' | ')}`);
  assert.equal(cluster.pids(primary).postmaster, postmaster, 'the primary postgres still the same process');

  const missing = await cluster.missingOn(primary, result.acked);
  assert.deepEqual(missing, [], `acknowledged writes lost: ${missing.length} of ${result.acked.length}`);
  console.log(`${result.acked.length} acknowledged writes, ${result.failures.length} failed attempts; events during/after the outage: ${newEvents.join(' | ') || 'none'}`);
});
