// The in-memory store: same contract as the etcd store, with explicit failure controls.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StoreUnavailableError } from '../../src/domain/errors.js';
import { defaultSpec, type ClusterView, type Command, type MemberStatus } from '../../src/domain/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';

function status(name: string, seq: number): MemberStatus {
  return { name, seq } as unknown as MemberStatus; // the store treats status as opaque JSON
}
function view(generation: number): ClusterView {
  return { generation, primary: 'a', reason: 'test' } as unknown as ClusterView;
}
const cmd: Command = { id: 'k1', kind: 'switchover', to: 'b', acceptDataLoss: false, requestedAt: 1 };

describe('MemoryStore', () => {
  it('publishes sessions; expiring one removes the key and the next publish uses a new lease', async () => {
    let clock = 100;
    const store = new MemoryStore({ now: () => clock });
    const s = await store.openMemberSession('c', 'a', 2);
    clock = 200;
    await s.publish(status('a', 1));
    assert.equal(s.lastOkAt(), 200);
    const lease1 = store.memberLease('c', 'a');
    assert.deepEqual((await store.readCluster('c')).members.map((m) => m.seq), [1]);
    assert.equal(store.expireSession('c', 'a'), true);
    assert.equal((await store.readCluster('c')).members.length, 0);
    await s.publish(status('a', 2));
    assert.notEqual(store.memberLease('c', 'a'), lease1);
    assert.deepEqual((await store.readCluster('c')).members.map((m) => m.seq), [2]);
    await s.close();
    assert.equal((await store.readCluster('c')).members.length, 0);
  });

  it('snapshots are copies', async () => {
    const store = new MemoryStore();
    await store.putCommand('c', cmd);
    const snap = await store.readCluster('c');
    (snap.command as Command).id = 'mutated';
    assert.equal((await store.readCluster('c')).command?.id, 'k1');
  });

  it('ensureSpec creates only if absent; events are newest last and bounded', async () => {
    const store = new MemoryStore();
    const spec = defaultSpec('c');
    assert.deepEqual(await store.ensureSpec('c', spec), spec);
    assert.deepEqual(await store.ensureSpec('c', { ...spec, syncStandbys: 3 }), spec);
    for (let i = 0; i < 1005; i++) await store.appendEvent('c', { at: i, source: 't', level: 'info', message: `e${i}` });
    assert.deepEqual((await store.listEvents('c', 2)).map((e) => e.at), [1003, 1004]);
    assert.equal((await store.listEvents('c', 5000)).length, 1000);
  });

  it('elects in campaign order, hands over on expiry and resign, one onLost per term', async () => {
    const mem = new MemoryStore();
    const other = mem.connect();
    const a = mem.campaign('c', 'ca', 2);
    const b = other.campaign('c', 'cb', 2);
    await a.waitUntilLeader();
    assert.equal(a.isLeader(), true);
    assert.equal(b.isLeader(), false);
    assert.equal((await other.readCluster('c')).coordinatorLeader, 'ca');
    let lostA = 0;
    a.onLost(() => lostA++);
    assert.equal(mem.expireLeadership('c'), true);
    assert.equal(lostA, 1);
    await b.waitUntilLeader();
    assert.equal(a.isLeader(), false);
    const aAgain = a.waitUntilLeader();
    await b.resign();
    await aAgain; // a new term for a
    assert.equal(a.isLeader(), true);
    assert.equal(lostA, 1);
    await assert.rejects(b.waitUntilLeader());
  });

  it('writeView: CAS on revision and leadership; consumes the command with that id only', async () => {
    const mem = new MemoryStore();
    const a = mem.campaign('c', 'ca', 2);
    const b = mem.campaign('c', 'cb', 2);
    assert.equal(await a.writeView(view(1), '0'), true);
    assert.equal(await a.writeView(view(2), '0'), false);
    let snap = await mem.readCluster('c');
    assert.equal(await b.writeView(view(2), snap.viewRevision), false);
    await mem.putCommand('c', cmd);
    snap = await mem.readCluster('c');
    assert.equal(await a.writeView(view(2), snap.viewRevision, 'other'), true);
    snap = await mem.readCluster('c');
    assert.equal(snap.command?.id, 'k1');
    assert.equal(await a.writeView(view(3), snap.viewRevision, 'k1'), true);
    snap = await mem.readCluster('c');
    assert.equal(snap.command, null);
    assert.equal(snap.view?.generation, 3);
  });

  it('simulated outage: calls reject with StoreUnavailableError, elections wait', async () => {
    const mem = new MemoryStore();
    const s = await mem.openMemberSession('c', 'a', 2);
    const a = mem.campaign('c', 'ca', 2);
    const b = mem.campaign('c', 'cb', 2);
    mem.setUnavailable(true);
    await assert.rejects(mem.readCluster('c'), StoreUnavailableError);
    await assert.rejects(s.publish(status('a', 1)), StoreUnavailableError);
    await assert.rejects(a.writeView(view(1), '0'), StoreUnavailableError);
    mem.expireLeadership('c');
    assert.equal(b.isLeader(), false, 'no election while unavailable');
    mem.setUnavailable(false);
    assert.equal(b.isLeader(), true);
    await s.publish(status('a', 1));
  });

  it('close releases what the handle owns only', async () => {
    const mem = new MemoryStore();
    const agent = mem.connect();
    const coord = mem.connect();
    const s = await agent.openMemberSession('c', 'a', 2);
    await s.publish(status('a', 1));
    const l = coord.campaign('c', 'ca', 2);
    await agent.close();
    const snap = await mem.readCluster('c');
    assert.equal(snap.members.length, 0);
    assert.equal(snap.coordinatorLeader, 'ca');
    await assert.rejects(agent.readCluster('c'), StoreUnavailableError);
    await coord.close();
    assert.equal(l.isLeader(), false);
    assert.equal((await mem.readCluster('c')).coordinatorLeader, null);
  });
});
