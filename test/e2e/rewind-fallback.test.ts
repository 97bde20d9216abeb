// Acceptance item of the HA core: when pg_rewind cannot rejoin a former primary, its agent falls
// back to a fresh pg_basebackup on its own (docs/ha-protocol.md, "Rejoining").
// The primary's host is killed; after the failover, and BEFORE the supervisor restarts its agent
// (restart delay 8 s here), the WAL segments of its data directory are deleted, so the crash
// recovery pg_rewind needs on an uncleanly stopped target cannot find its checkpoint record.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isPidAlive } from '../../src/local/proc.js';
import { TestCluster } from '../../src/testkit/cluster.js';
import { Writer } from '../../src/testkit/writer.js';

const RESTART_DELAY_MS = 8000;
const WAL_SEGMENT = /^[0-9A-F]{24}$/;

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.start({ members: 3, restartDelayMs: RESTART_DELAY_MS });
});
after(async () => {
  await cluster?.stop();
});


test('pg_rewind failure falls back to a base backup on its own; 0 acknowledged writes lost', async () => {
  const d0 = await cluster.waitHealthy();
  const old = d0.members.find((m) => m.role === 'primary')!.name;
  const syncName = d0.view!.syncConfirmed[0]!;
  const writer = new Writer(cluster.writerTarget());
  await writer.start();
  await writer.waitForAcks(50);

  const before = cluster.pids(old);
  const killedAt = performance.now();
  cluster.killHost(old);

  let newPrimary: string;
  let deleted: string[];
  try {
    const d = await cluster.waitFor('a new primary', (x) => x.members.some((m) => m.role === 'primary' && m.name !== old), 30_000);
    newPrimary = d.members.find((m) => m.role === 'primary')!.name;
    assert.equal(newPrimary, syncName, 'the confirmed synchronous standby was promoted');

    // Sabotage the old primary's data directory while nothing of it runs.
    const alive = [before.agent, before.postmaster, ...before.children].filter(isPidAlive);
    assert.deepEqual(alive, [], 'every process of the killed host is gone');
    const walDir = join(cluster.dir, 'members', old, 'data', 'pg_wal');
    deleted = readdirSync(walDir).filter((f) => WAL_SEGMENT.test(f));
    for (const f of deleted) rmSync(join(walDir, f));
    assert.ok(deleted.length > 0, `deleted WAL segments in ${walDir}`);
    // Precondition of the scenario (not a speed check): the agent has not been restarted yet.
    const agentNow = cluster.pids(old).agent;
    assert.ok(agentNow === before.agent || !isPidAlive(agentNow),
      `the supervisor restarted ${old}'s agent before the WAL was removed; the scenario did not happen as planned`);
  } catch (e) {
    await writer.stop();
    throw new Error(`${(e as Error).message}\n${await cluster.diagnostics()}`);
  }
  const sabotagedAt = performance.now();
  await writer.waitForAcks(50, 30_000);

  let rejoined;
  try {
    // `up` archives and takes a first full backup, so the fresh clone restores it (issue 9).
    rejoined = await cluster.waitFor(`${old} back as a streaming standby via a fresh clone`, (x) => {
      const m = x.members.find((y) => y.name === old);
      // A clone restored from a backup replays the archive first: back means on the new timeline.
      const p = x.members.find((y) => y.name === newPrimary);
      return m !== undefined && (m.role === 'sync' || m.role === 'async') && (m.rejoin?.method === 'restore' || m.rejoin?.method === 'basebackup') && m.rejoin.result === 'ok'
        && p !== undefined && m.timeline === p.timeline;
    }, 100_000);
  } catch (e) {
    await writer.stop();
    throw new Error(`${(e as Error).message}\n${await cluster.diagnostics([old, newPrimary])}`);
  }
  const rejoinedAt = performance.now();
  await writer.waitForAcks(50, 30_000);
  const result = await writer.stop();

  const o = rejoined.members.find((m) => m.name === old)!;
  assert.match(o.rejoin!.reason, /pg_rewind failed/, `rejoin reason names the failed pg_rewind: ${o.rejoin!.reason}`);
  assert.equal(rejoined.view?.primary, newPrimary, 'no further failover');
  assert.equal(o.timeline, rejoined.members.find((m) => m.name === newPrimary)!.timeline, 'the clone follows the new timeline');
  const events = await cluster.events();
  const fallback = events.filter((e) => e.includes(`agent:${old}`) && /pg_rewind failed.*falling back to a fresh base backup/s.test(e));
  assert.ok(fallback.length > 0, `an event records the fallback\n${events.slice(-30).join('\n')}`);
  assert.ok(events.some((e) => new RegExp(`${old}: cloned from (the backup \\S+ \\(pgbackrest restore|${newPrimary} with pg_basebackup)`).test(e)), 'an event records the clone');

  const missing = await cluster.missingOn(newPrimary, result.acked);
  assert.deepEqual(missing, [], `acknowledged writes lost: ${missing.length} of ${result.acked.length}`);
  for (const m of d0.members.map((x) => x.name).filter((n) => n !== newPrimary)) {
    const left = await cluster.waitNoneMissing(m, result.acked, 30_000);
    assert.deepEqual(left, [], `acknowledged writes missing on ${m} after catch-up: ${left.length}\n${await cluster.diagnostics([m])}`);
  }
  console.log(`rewind fallback on ${old}: WAL removed ${((sabotagedAt - killedAt) / 1000).toFixed(1)} s after the kill (${deleted.length} segments); `
    + `back as a standby via pg_basebackup ${((rejoinedAt - killedAt) / 1000).toFixed(1)} s after the kill; `
    + `${result.acked.length} acknowledged writes, ${result.failures.length} failed attempts\n  event: ${fallback[0]!.slice(0, 400)}`);
});
