// Scheduled backups against a real single-member etcd: the CAS on backups/last, and two
// coordinators' schedulers deciding at the same instant, as during a failover overlap (exactly
// one claims and runs; the other is blocked by the claim until the result is recorded).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BackupScheduler, emptyRuns, type BackupRunner } from '../../src/backup/scheduler.js';
import type { BackupType } from '../../src/domain/types.js';
import { createEtcdStore } from '../../src/store/etcd-store.js';
import type { Store } from '../../src/store/store.js';
import { startEtcd, type EtcdProcess } from '../../src/testkit/etcd-process.js';
import { makeTempDir, removeTempDir } from '../../src/testkit/tmp.js';

const SUN_0100 = Date.parse('2026-12-06T01:00:00Z');
const MIN = 60_000;

function heldRunner(): BackupRunner & { calls: BackupType[]; finish(id: string): void } {
  const calls: BackupType[] = [];
  const waiting: Array<(r: { id: string }) => void> = [];
  return {
    calls,
    run(type) {
      calls.push(type);
      return new Promise((resolve) => waiting.push(resolve));
    },
    finish(id) {
      for (const w of waiting.splice(0)) w({ id });
    },
  };
}

describe('backup scheduler (real etcd)', () => {
  let dir = '';
  let etcd: EtcdProcess;
  const stores: Store[] = [];
  const open = (): Store => {
    const s = createEtcdStore([etcd.endpoint]);
    stores.push(s);
    return s;
  };

  before(async () => {
    dir = await makeTempDir('ballast-backup-scheduler-');
    etcd = await startEtcd(dir);
  });

  after(async () => {
    await Promise.allSettled(stores.map((s) => s.close()));
    await etcd.stop();
    await removeTempDir(dir);
  });

  it('backups/last is compare-and-swapped on its mod revision', async () => {
    const a = open();
    const b = open();
    assert.deepEqual(await a.readBackupRuns('k1'), { runs: null, revision: '0' });
    const r1 = await a.writeBackupRun('k1', emptyRuns(1), '0');
    assert.ok(r1 !== null);
    assert.equal(await b.writeBackupRun('k1', emptyRuns(2), '0'), null, "'0' means: must not exist");
    assert.deepEqual(await b.readBackupRuns('k1'), { runs: emptyRuns(1), revision: r1 });
    const r2 = await b.writeBackupRun('k1', emptyRuns(3), r1);
    assert.ok(r2 !== null);
    assert.equal(await a.writeBackupRun('k1', emptyRuns(4), r1), null, 'stale revision loses');
    assert.deepEqual(await a.readBackupRuns('k1'), { runs: emptyRuns(3), revision: r2 });
    assert.equal((await a.readCluster('k1')).spec, null, 'readCluster is not confused by the key');
  });

  it('two schedulers passing at once: exactly one claims and runs; the other stays blocked until the result is recorded', async () => {
    const cluster = 'k2';
    const clock = SUN_0100 + 11 * MIN;
    const [sa, sb] = [open(), open()];
    await sa.writeBackupRun(cluster, emptyRuns(SUN_0100), '0');
    const [ra, rb] = [heldRunner(), heldRunner()];
    const a = new BackupScheduler({ store: sa, cluster, id: 'c1', runner: ra, now: () => clock });
    const b = new BackupScheduler({ store: sb, cluster, id: 'c2', runner: rb, now: () => clock });
    // Both believe they lead (an overlap during a failover): the CAS picks one.
    const passes = [a.pass(), b.pass()];
    const settled = await Promise.race([Promise.allSettled(passes), new Promise((r) => setTimeout(r, 1500, 'one is running'))]);
    assert.equal(settled, 'one is running');
    assert.equal(ra.calls.length + rb.calls.length, 1, `calls: c1 ${ra.calls}, c2 ${rb.calls}`);
    const [winner, loserRunner, loser] = ra.calls.length === 1 ? [ra, rb, b] : [rb, ra, a];
    const { runs } = await sa.readBackupRuns(cluster);
    assert.equal(runs?.running?.type, 'full');
    const again = await loser.pass();
    assert.equal(again.kind, 'blocked', again.reason);
    winner.finish('F1');
    const [oa, ob] = await Promise.all(passes);
    const [won, lost] = winner === ra ? [oa, ob] : [ob, oa];
    assert.equal(won?.kind, 'ran');
    assert.ok(lost?.kind === 'lost-race' || lost?.kind === 'blocked', lost?.reason); // read before or after the claim
    const done = await sb.readBackupRuns(cluster);
    assert.equal(done.runs?.running, null);
    assert.equal(done.runs?.ok.full?.id, 'F1');
    assert.equal((await loser.pass()).kind, 'idle');
    assert.deepEqual(loserRunner.calls, []);
  });
});
