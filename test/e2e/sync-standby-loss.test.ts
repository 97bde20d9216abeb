// Acceptance item of the HA core: the synchronous standby's host is killed under writes.
// Protocol (docs/ha-protocol.md, "Losing the synchronous standby"): the other streaming standby
// replaces it through the request/apply/barrier/proof steps; writes resume once the primary has
// applied the new name; no acknowledged write is lost; the primary does not change. The killed
// member comes back through the supervisor and streams again.
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

test('sync standby killed under writes: the other standby becomes synchronous, 0 acknowledged writes lost, the killed one streams again', async () => {
  const d0 = await cluster.waitHealthy();
  const primary = d0.members.find((m) => m.role === 'primary')!.name;
  const sync = d0.view!.syncConfirmed[0]!;
  const other = d0.members.find((m) => m.name !== primary && m.name !== sync)!.name;
  assert.deepEqual(d0.view!.syncStandbys, [sync], 'one synchronous standby before the kill');
  const oldAgentPid = cluster.pids(sync).agent;

  const writer = new Writer(cluster.writerTarget());
  await writer.start();
  await writer.waitForAcks(50);
  const watch = cluster.watchView(100);

  const killedAt = performance.now();
  cluster.killHost(sync);

  let resumedAt: number;
  try {
    await cluster.waitFor(`view.syncStandbys = [${other}]`, (d) => d.view?.syncStandbys.join() === other, 30_000);
    await cluster.waitFor(`view.syncConfirmed = [${other}]`, (d) => d.view?.syncConfirmed.join() === other, 30_000);
    await writer.waitForAcks(100, 30_000);
    resumedAt = performance.now();
  } catch (e) {
    await writer.stop();
    await watch.stop();
    throw new Error(`${(e as Error).message}\n${await cluster.diagnostics([primary, other])}`);
  }
  const gap = longestGap(writer.result.acked, killedAt, resumedAt);

  // The supervisor restarts the killed agent (3 s); its standby streams again (as async now).
  try {
    await cluster.waitFor(`${sync} streaming again`, (d) => {
      const m = d.members.find((x) => x.name === sync);
      return m !== undefined && (m.role === 'sync' || m.role === 'async') && m.agentPid !== oldAgentPid;
    }, 60_000);
    await writer.waitForAcks(50, 30_000);
  } catch (e) {
    await writer.stop();
    await watch.stop();
    throw new Error(`${(e as Error).message}\n${await cluster.diagnostics([sync, primary])}`);
  }
  const samples = await watch.stop();
  const result = await writer.stop();
  const d1 = await cluster.describe();

  // The primary never changed; the synchronous set moved to the other standby.
  assert.deepEqual(samples.filter((s) => s.primary !== primary).map((s) => `${s.generation}:${s.primary}`), [], 'no failover');
  assert.equal(d1.view?.primary, primary);
  assert.deepEqual(d1.view?.syncStandbys, [other], `${other} stays the synchronous standby`);
  assert.deepEqual(d1.view?.syncConfirmed, [other]);
  const requestedAt = samples.find((s) => s.syncStandbys.join() === other)?.at;
  const confirmedAt = samples.find((s) => s.syncConfirmed.join() === other)?.at;
  assert.ok(requestedAt !== undefined && confirmedAt !== undefined && requestedAt <= confirmedAt, 'requested before confirmed');
  // Protocol invariant at every sampled view: only listed members can be confirmed.
  for (const s of samples) assert.ok(s.syncConfirmed.every((n) => s.syncStandbys.includes(n)), `syncConfirmed ⊆ syncStandbys at generation ${s.generation}`);

  // No acknowledged write lost: on the primary, and on both standbys once caught up.
  const missing = await cluster.missingOn(primary, result.acked);
  assert.deepEqual(missing, [], `acknowledged writes lost on the primary: ${missing.length} of ${result.acked.length}`);
  for (const s of [other, sync]) {
    const m = await cluster.waitNoneMissing(s, result.acked, 30_000);
    assert.deepEqual(m, [], `acknowledged writes missing on ${s} after catch-up: ${m.length}\n${await cluster.diagnostics([s])}`);
  }
  const events = await cluster.events();
  console.log(`sync standby ${sync} killed: longest write gap ${gap.toFixed(0)} ms; sync set [${other}] requested after `
    + `${(requestedAt - killedAt).toFixed(0)} ms, confirmed after ${(confirmedAt - killedAt).toFixed(0)} ms; `
    + `${result.acked.length} acknowledged writes, ${result.failures.length} failed attempts`);
  console.log(`relevant view reasons/events:\n  ${events.filter((e) => /synchronous|sync/.test(e)).slice(-6).join('\n  ')}`);
});
