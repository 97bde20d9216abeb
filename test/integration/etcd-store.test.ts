// The etcd store against a real single-member etcd (testkit). Runs in well under a minute.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { StoreUnavailableError } from '../../src/domain/errors.js';
import { keys } from '../../src/domain/keys.js';
import { defaultSpec, type ClusterView, type MemberStatus } from '../../src/domain/types.js';
import { createEtcdStore } from '../../src/store/etcd-store.js';
import type { Leadership, Store } from '../../src/store/store.js';
import { startEtcd, type EtcdProcess } from '../../src/testkit/etcd-process.js';
import { makeTempDir, removeTempDir } from '../../src/testkit/tmp.js';

const TTL = 2; // etcd 3.4's minimum lease TTL with default election settings

function status(name: string, seq: number): MemberStatus {
  return {
    name, host: '127.0.0.1', port: 5432, apiPort: 8008, agentPid: 1, postgresPid: null, seq, at: 0,
    viewGeneration: 0, postgres: 'running', healthy: true, inRecovery: false, timeline: 1, systemId: null,
    lsn: null, flushLsn: null, receiveLsn: null, replayLsn: null, lagBytes: 0, lagMs: 0, appliedSync: null,
    replication: [], streamingFrom: null, primaryReachable: null, primaryUnreachableForMs: 0, fenced: false,
    restartAttempts: 0, downForMs: null, rejoin: null, activity: 'test', lastError: null,
  };
}

function view(generation: number, primary: string | null): ClusterView {
  return {
    generation, primary, primarySince: 0, timeline: 1, syncStandbys: [], syncConfirmed: [], syncChange: null, unreplicated: false,
    switchover: null, lastCommand: null, reason: 'test', updatedAt: 0,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(what: string, ms: number, cond: () => boolean | Promise<boolean>): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < ms) {
    if (await cond()) return performance.now() - start;
    await sleep(50);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

async function rejectsUnavailableWithin(ms: number, p: Promise<unknown>): Promise<number> {
  const start = performance.now();
  await assert.rejects(p, (e: unknown) => e instanceof StoreUnavailableError && e.cause !== undefined);
  const took = performance.now() - start;
  assert.ok(took < ms, `took ${Math.round(took)} ms, expected < ${ms}`);
  return took;
}

describe('etcd store (real etcd)', () => {
  let dir = '';
  let etcd: EtcdProcess;
  let raw: Etcd3;
  const stores: Store[] = [];
  const open = (): Store => {
    const s = createEtcdStore([etcd.endpoint]);
    stores.push(s);
    return s;
  };
  const leaseOf = async (key: string): Promise<string | null> => {
    const res = await raw.get(key).exec();
    return res.kvs[0]?.lease ?? null;
  };

  before(async () => {
    dir = await makeTempDir('ballast-etcd-store-');
    etcd = await startEtcd(dir);
    raw = new Etcd3({ hosts: etcd.endpoint });
  });

  after(async () => {
    await Promise.allSettled(stores.map((s) => s.close()));
    raw.close();
    await etcd.stop();
    await removeTempDir(dir);
  });

  it('publishes member status under a lease; readCluster sees it; close removes it', async () => {
    const store = open();
    const before = performance.now();
    const session = await store.openMemberSession('c1', 'a', TTL);
    await session.publish(status('a', 1));
    assert.ok(session.lastOkAt() >= before);
    const snap = await store.readCluster('c1');
    assert.deepEqual(snap.members.map((m) => [m.name, m.seq]), [['a', 1]]);
    assert.equal(snap.view, null);
    assert.equal(snap.viewRevision, '0');
    assert.equal(snap.coordinatorLeader, null);
    assert.notEqual(await leaseOf(keys.member('c1', 'a')), '0');
    await sleep(TTL * 1000 + 500); // keep-alives hold the key beyond the TTL
    assert.equal((await store.readCluster('c1')).members.length, 1);
    await session.close();
    assert.equal((await store.readCluster('c1')).members.length, 0);
  });

  it('spec, command and events; readCluster ignores events', async () => {
    const store = open();
    const spec = defaultSpec('c2');
    assert.deepEqual(await store.ensureSpec('c2', spec), spec);
    assert.deepEqual(await store.ensureSpec('c2', { ...spec, syncStandbys: 2 }), spec, 'first spec stays');
    await store.putSpec('c2', { ...spec, syncStandbys: 2 });
    const cmd = { id: 'x1', kind: 'switchover' as const, to: 'b', acceptDataLoss: false, requestedAt: 1 };
    await store.putCommand('c2', cmd);
    for (let i = 0; i < 5; i++) {
      await store.appendEvent('c2', { at: i, source: 'coordinator', level: 'info', message: `e${i}` });
    }
    const events = await store.listEvents('c2', 3);
    assert.deepEqual(events.map((e) => e.message), ['e2', 'e3', 'e4']);
    const snap = await store.readCluster('c2');
    assert.equal(snap.spec?.syncStandbys, 2);
    assert.deepEqual(snap.command, cmd);
    assert.equal(snap.members.length, 0);
  });

  it('keeps event order within a millisecond and trims to the newest 1000', async () => {
    const store = open();
    for (let i = 0; i < 1050; i++) {
      await store.appendEvent('c7', { at: i, source: 'agent:a', level: 'info', message: `e${i}` });
    }
    const all = await store.listEvents('c7', 5000);
    assert.equal(all.length, 1000);
    assert.deepEqual(all.map((e) => e.at), Array.from({ length: 1000 }, (_, i) => i + 50));
  });

  it('elects exactly one leader; the other takes over within ttl+1 s when it goes', async () => {
    const sa = open();
    const sb = open();
    const la = sa.campaign('c3', 'coord_a', TTL);
    const lb = sb.campaign('c3', 'coord_b', TTL);
    await Promise.race([la.waitUntilLeader(), lb.waitUntilLeader()]);
    await sleep(300);
    assert.equal(Number(la.isLeader()) + Number(lb.isLeader()), 1, 'exactly one leader');
    const [leader, follower, leaderStore, leaderId] = la.isLeader()
      ? [la, lb, sa, 'coord_a']
      : [lb, la, sb, 'coord_b'];
    assert.equal((await sa.readCluster('c3')).coordinatorLeader, leaderId);
    let lost = 0;
    leader.onLost(() => lost++);
    const t0 = performance.now();
    await leaderStore.close(); // resigns: lease revoked
    assert.equal(lost, 1);
    await follower.waitUntilLeader();
    assert.ok(performance.now() - t0 < TTL * 1000 + 1000);
    assert.ok(follower.isLeader());
  });

  it('leader lease revoked behind its back: onLost once, then a new term', async () => {
    const s = open();
    const l = s.campaign('c4', 'coord_a', TTL);
    await l.waitUntilLeader();
    let lost = 0;
    l.onLost(() => lost++);
    const leaseId = await leaseOf(`${keys.election('c4')}/leader`);
    assert.ok(leaseId !== null);
    await raw.lease(1, { autoKeepAlive: false }).revoke(); // warm the raw client
    await raw.leaseClient.leaseRevoke({ ID: leaseId });
    await waitFor('loss', TTL * 1000 + 1000, () => lost === 1);
    assert.equal(l.isLeader(), false);
    await l.waitUntilLeader(); // nobody else campaigns: a new term
    assert.ok(l.isLeader());
    assert.equal(lost, 1);
    assert.notEqual(await leaseOf(`${keys.election('c4')}/leader`), leaseId);
  });

  it('writeView is a CAS on the view revision and on leadership, and consumes the command', async () => {
    const sa = open();
    const sb = open();
    const la = sa.campaign('c5', 'coord_a', TTL);
    await la.waitUntilLeader();
    const lb: Leadership = sb.campaign('c5', 'coord_b', TTL);
    assert.equal(await la.writeView(view(1, 'a'), '0'), true);
    assert.equal(await la.writeView(view(2, 'a'), '0'), false, 'stale revision');
    let snap = await sa.readCluster('c5');
    assert.equal(snap.view?.generation, 1);
    assert.equal(await lb.writeView(view(9, 'b'), snap.viewRevision), false, 'not leader');
    const cmd = { id: 'k1', kind: 'switchover' as const, to: 'b', acceptDataLoss: false, requestedAt: 1 };
    await sa.putCommand('c5', cmd);
    snap = await sa.readCluster('c5');
    assert.equal(await la.writeView(view(2, 'a'), snap.viewRevision, 'other-id'), true);
    snap = await sa.readCluster('c5');
    assert.deepEqual(snap.command, cmd, 'command with another id stays');
    assert.equal(await la.writeView(view(3, 'a'), snap.viewRevision, 'k1'), true);
    snap = await sa.readCluster('c5');
    assert.equal(snap.command, null, 'consumed in the same txn');
    assert.equal(snap.view?.generation, 3);
    assert.notEqual(snap.viewRevision, '0');
    assert.equal(lb.isLeader(), false);
    await lb.resign();
    await assert.rejects(lb.waitUntilLeader());
  });

  it('fails fast while etcd is paused or down; sessions and leadership recover after a restart', async (t) => {
    const store = open();
    const session = await store.openMemberSession('c6', 'a', TTL);
    await session.publish(status('a', 1));
    const leaseBefore = await leaseOf(keys.member('c6', 'a'));
    const l = store.campaign('c6', 'coord_a', TTL);
    await l.waitUntilLeader();
    let lost = 0;
    l.onLost(() => lost++);

    etcd.pause(); // no answers at all: the deadline must fire
    try {
      const r = await rejectsUnavailableWithin(2000, store.readCluster('c6'));
      const p = await rejectsUnavailableWithin(2000, session.publish(status('a', 2)));
      t.diagnostic(`paused etcd: readCluster failed after ${Math.round(r)} ms, publish after ${Math.round(p)} ms`);
    } finally {
      etcd.resume();
    }
    await etcd.stop(); // connection refused
    const t0 = performance.now();
    const r = await rejectsUnavailableWithin(2000, store.readCluster('c6'));
    t.diagnostic(`stopped etcd: readCluster failed after ${Math.round(r)} ms`);
    await rejectsUnavailableWithin(2000, store.appendEvent('c6', { at: 0, source: 't', level: 'info', message: 'x' }));
    await waitFor('leadership loss while etcd is down', TTL * 1000 + 1000, () => lost === 1);
    assert.equal(l.isLeader(), false);
    await sleep(Math.max(0, TTL * 1000 + 1000 - (performance.now() - t0)));

    await etcd.restart(); // same ports and data
    const back = await waitFor('publish to work again', 5000, async () => {
      try {
        await session.publish(status('a', 3));
        return true;
      } catch {
        return false;
      }
    });
    t.diagnostic(`publish worked again ${Math.round(back)} ms after etcd was healthy`);
    const leaseAfter = await leaseOf(keys.member('c6', 'a'));
    assert.ok(leaseAfter !== null && leaseAfter !== leaseBefore, 'a new lease');
    await l.waitUntilLeader(); // old key expires (etcd renews leases on restart), then a new term
    assert.equal(lost, 1);
    await sleep(TTL * 1000 + 500);
    const snap = await store.readCluster('c6');
    assert.deepEqual(snap.members.map((m) => m.seq), [3], 'the new lease is kept alive');
    assert.equal(snap.coordinatorLeader, 'coord_a');
  });
});
