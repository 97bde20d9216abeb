// Planned switchovers under continuous writes: 20 in a row, alternating "best standby" and an
// explicit target, each ending done with a healthy cluster before the next; no acknowledged write
// is lost. Meanwhile `pgbench -c 50` runs through the read-write endpoint (PgBouncer, transaction
// pooling) in 10 s chunks: the switchover PAUSEs the poolers, so no pgbench client may abort and
// pgbench_history must hold exactly the transactions pgbench counted as processed. Bad targets (the current primary, an unknown member) are rejected and change nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { TestCluster } from '../../src/testkit/cluster.js';
import { longestGap, Writer } from '../../src/testkit/writer.js';
import { runPgbench, type PgbenchResult } from '../../src/testkit/pgbench.js';

const SWITCHOVERS = Number(process.env.SWITCHOVERS ?? 20);

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.start({ members: 3, restartDelayMs: 3000 });
});
after(async () => {
  await cluster?.stop();
});

interface SwitchoverResult {
  result: string;
  primary: string;
  previousPrimary: string | null;
  message: string;
}

test('a switchover to the current primary or to an unknown member is rejected and changes nothing', async () => {
  const d = await cluster.waitHealthy();
  const primary = d.members.find((m) => m.role === 'primary')!.name;
  const generation = d.view!.generation;

  await assert.rejects(cluster.switchover(primary), (e: Error) => {
    assert.match(e.message, new RegExp(`${primary} is already the primary`));
    return true;
  });
  await assert.rejects(cluster.switchover('pg9'), (e: Error) => {
    assert.match(e.message, /--to pg9: no such member in cluster .* \(members: pg1, pg2, pg3\)/);
    return true;
  });
  await assert.rejects(cluster.switchover('Bad_Name!'), (e: Error) => {
    assert.match(e.message, /--to "Bad_Name!" is not a valid name/);
    return true;
  });

  const after = await cluster.describe();
  assert.equal(after.members.find((m) => m.role === 'primary')?.name, primary, 'primary unchanged');
  assert.equal(after.view!.generation, generation, 'no view change');
  assert.equal(after.view!.switchover, null, 'no switchover started');
});

test(`${SWITCHOVERS} switchovers in a row under writes: 0 acknowledged writes lost`, { timeout: 15 * 60_000 }, async () => {
  await cluster.waitHealthy();
  const writer = new Writer(cluster.writerTarget());
  await writer.start();
  await writer.waitForAcks(20);
  const rw = cluster.info.endpoints.rw;
  const init = await runPgbench({ uri: rw, args: ['-i', '-s', '1', '-q'], timeoutMs: 120_000 });
  assert.doesNotMatch(init.raw, /error|exited with/i, `pgbench -i through rw: ${init.raw}`);
  const chunks: PgbenchResult[] = [];
  let benchOn = true;
  const bench = (async () => {
    while (benchOn) chunks.push(await runPgbench({ uri: rw, args: ['-n', '-b', 'simple-update', '-c', '50', '-j', '2', '-T', '10'], timeoutMs: 120_000 }));
  })();
  const pauses: number[] = [];
  const durations: number[] = [];
  try {
    for (let i = 0; i < SWITCHOVERS; i++) {
      const d = await cluster.waitHealthy();
      const from = d.members.find((m) => m.role === 'primary')!.name;
      // Odd rounds name a target: the asynchronous standby, so the sync-target phase runs too.
      const explicit = i % 2 === 1 ? d.members.find((m) => m.role === 'async')?.name : undefined;
      const t0 = performance.now();
      const r = (await cluster.switchover(explicit)) as SwitchoverResult;
      const t1 = performance.now();
      assert.equal(r.result, 'done', `switchover ${i + 1}: ${r.message}`);
      assert.equal(r.previousPrimary, from);
      assert.notEqual(r.primary, from, `switchover ${i + 1} moved the primary`);
      if (explicit) assert.equal(r.primary, explicit, `switchover ${i + 1} went to the named target`);
      await writer.waitForAcks(5, 30_000);
      const healed = await cluster.waitHealthy();
      assert.equal(healed.members.find((m) => m.role === 'primary')!.name, r.primary);
      const old = healed.members.find((m) => m.name === from)!;
      assert.ok(old.role === 'sync' || old.role === 'async', `${from} rejoined as a standby (${old.role})`);
      const pause = longestGap(writer.result.acked, t0, writer.lastAckAt() ?? t1);
      pauses.push(pause);
      durations.push(performance.now() - t0);
      console.log(`switchover ${i + 1}: ${from} -> ${r.primary}${explicit ? ' (named)' : ''}: write pause ${pause.toFixed(0)} ms, command ${(t1 - t0).toFixed(0)} ms, healthy after ${(performance.now() - t0).toFixed(0)} ms; rejoin ${old.rejoin?.method ?? '-'} ${old.rejoin?.result ?? ''}`);
    }
  } finally {
    benchOn = false;
    await writer.stop();
    await bench;
  }
  const processed = chunks.reduce((a, c) => a + c.processed, 0);
  console.log(`pgbench -c 50 through rw: ${chunks.length} chunks of 10 s, ${processed} transactions, aborted ${chunks.map((c) => c.aborted).join('/')}, failed ${chunks.map((c) => c.failed).join('/')}`);
  for (const [i, c] of chunks.entries()) {
    assert.equal(c.aborted, 0, `pgbench chunk ${i + 1}: ${c.aborted} clients aborted:\n${c.raw.slice(-3000)}`);
    assert.equal(c.failed, 0, `pgbench chunk ${i + 1}: failed transactions:\n${c.raw.slice(-3000)}`);
    assert.ok(c.processed > 0, `pgbench chunk ${i + 1} processed nothing:\n${c.raw.slice(-3000)}`);
  }
  const [hist] = await cluster.queryUri<{ n: string }>(rw, 'SELECT count(*) AS n FROM pgbench_history', 10_000);
  assert.equal(Number(hist!.n), processed, 'every transaction pgbench counted is in pgbench_history (and nothing more)');
  const result = writer.result;
  const final = await cluster.waitHealthy();
  const primary = final.members.find((m) => m.role === 'primary')!.name;
  const missing = await cluster.missingOn(primary, result.acked);
  assert.deepEqual(missing, [], `acknowledged writes lost on ${primary}: ${missing.length} of ${result.acked.length}`);
  for (const m of final.members.filter((x) => x.name !== primary)) {
    await cluster.waitFor(`${m.name} caught up`, (x) => (x.members.find((y) => y.name === m.name)?.lagBytes ?? 1) === 0, 30_000);
    let lost = await cluster.missingOn(m.name, result.acked);
    for (let i = 0; i < 50 && lost.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      lost = await cluster.missingOn(m.name, result.acked);
    }
    assert.deepEqual(lost, [], `acknowledged writes missing on standby ${m.name}: ${lost.length}`);
  }
  const events = await cluster.events(1000);
  assert.ok(!events.some((e) => /failover: /.test(e)), 'no failover happened during planned switchovers');
  const sorted = [...pauses].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  console.log(`${SWITCHOVERS} switchovers: write pause median ${median.toFixed(0)} ms, max ${sorted[sorted.length - 1]!.toFixed(0)} ms; ` +
    `switchover-to-healthy median ${[...durations].sort((a, b) => a - b)[Math.floor(durations.length / 2)]!.toFixed(0)} ms; ` +
    `${result.acked.length} acknowledged writes, ${result.failures.length} failed attempts (${[...new Set(result.failures.map((f) => f.error))].slice(0, 3).join(' | ')})`);
});
