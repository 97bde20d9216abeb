// Detection and fencing (docs/ha-protocol.md):
// - a primary whose agent stalls while its postgres serves is NOT failed over;
// - a primary that can confirm its role neither through etcd nor through a failsafe majority
//   of peer agents stops postgres within fenceAfterMs (2 s) + one control pass + the stop.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { TestCluster } from '../../src/testkit/cluster.js';
import { longestGap, Writer } from '../../src/testkit/writer.js';

let cluster: TestCluster;
const FENCE_BOUND_MS = 2000 + 100 + 2000; // fenceAfterMs + control pass + generous stop/observation margin

before(async () => {
  cluster = await TestCluster.start({ members: 3 });
});
after(async () => {
  await cluster?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('stalled primary agent (postgres fine): no failover, writes continue', async () => {
  const d = await cluster.waitHealthy();
  const primary = d.members.find((m) => m.role === 'primary')!.name;
  const generation = d.view!.generation;
  const writer = new Writer(cluster.writerTarget());
  await writer.start();
  await writer.waitForAcks(20);
  const agent = cluster.pids(primary).agent!;
  const t0 = performance.now();
  process.kill(agent, 'SIGSTOP'); // longer than heartbeatTimeoutMs and the lease TTL
  await sleep(6000);
  process.kill(agent, 'SIGCONT');
  const t1 = performance.now();
  await writer.waitForAcks(20);
  const after = await cluster.waitHealthy();
  const result = await writer.stop();
  assert.equal(after.members.find((m) => m.role === 'primary')?.name, primary, 'same primary');
  assert.ok(!(await cluster.events()).some((e) => /failover:/.test(e)), 'no failover event');
  assert.ok(result.acked.some((a) => a.at > t0 + 1000 && a.at < t1), 'writes were acknowledged while the agent was stalled');
  assert.deepEqual(await cluster.missingOn(primary, result.acked), []);
  console.log(`agent stalled 6 s: longest write gap ${longestGap(result.acked, t0, t1).toFixed(0)} ms; view generation ${generation} -> ${after.view?.generation}`);
});

test('primary cut off from etcd and from its peers fences itself within the bound', async () => {
  const d = await cluster.waitHealthy();
  const primary = d.members.find((m) => m.role === 'primary')!.name;
  const pm = cluster.pids(primary).postmaster!;
  const writer = new Writer(cluster.writerTarget(), { queryTimeoutMs: 1000, firstId: 1_000_000 });
  await writer.start();
  await writer.waitForAcks(20);
  const standbyAgents = d.members.filter((m) => m.name !== primary).map((m) => cluster.pids(m.name).agent!);
  const t0 = performance.now();
  cluster.freezeEtcd('SIGSTOP');
  for (const pid of standbyAgents) process.kill(pid, 'SIGSTOP');
  let stoppedAfter: number | null = null;
  while (performance.now() - t0 < 15_000) {
    if (!alive(pm)) {
      stoppedAfter = performance.now() - t0;
      break;
    }
    await sleep(50);
  }
  cluster.freezeEtcd('SIGCONT');
  for (const pid of standbyAgents) process.kill(pid, 'SIGCONT');
  assert.ok(stoppedAfter !== null, 'the isolated primary stopped postgres');
  console.log(`fenced: postgres stopped ${stoppedAfter!.toFixed(0)} ms after etcd and peers became unreachable (bound ${FENCE_BOUND_MS} ms)`);
  assert.ok(stoppedAfter! <= FENCE_BOUND_MS, `fenced within the stated bound (${stoppedAfter} ms)`);
  const lastAck = writer.lastAckAt() ?? 0;
  assert.ok(lastAck - t0 <= FENCE_BOUND_MS, 'no write acknowledged after the fence');
  // Once etcd and peers are back, the cluster heals (same or new primary), nothing lost.
  const healed = await cluster.waitHealthy(90_000);
  await writer.waitForAcks(20, 60_000);
  const result = await writer.stop();
  const now = healed.members.find((m) => m.role === 'primary')!.name;
  assert.deepEqual(await cluster.missingOn(now, result.acked), []);
  assert.ok((await cluster.events()).some((e) => /fencing/.test(e)), 'fence recorded as an event');
});
