// planHaproxyUpdate (table) and the parser of HAProxy's `show servers state`.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  isUp, parseServersState, planHaproxyUpdate, type HaproxyServerState, type RoutingTarget,
} from '../../src/routing/haproxy-admin.js';
import type { RoutingMember } from '../../src/routing/routing-types.js';

// Captured from HAProxy 2.6.12 (rw/b forced into maint, ro/a-primary tracking rw/a).
const CAPTURED = '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n2 rw 1 a 127.0.0.1 2 0 1 1 2 8 2 0 6 0 0 0 - 5432 - 0 45998 - - 45998\n2 rw 2 b 127.0.0.1 0 1 1 1 2 8 2 0 14 0 0 0 - 5432 - 0 45997 - - 45997\n3 ro 1 a 127.0.0.1 0 0 1 1 2 8 2 0 6 0 0 0 - 5432 - 0 45998 - - 45998\n3 ro 2 a-primary 127.0.0.1 2 0 1 1 2 1 0 2 0 0 0 0 - 5432 - 0 0 - - 0\n\n';

describe('parseServersState', () => {
  it('parses the captured output by column name', () => {
    const s = parseServersState(CAPTURED);
    assert.equal(s.length, 4);
    assert.deepEqual(s[1], { backend: 'rw', server: 'b', addr: '127.0.0.1', port: 5432, opState: 0, adminState: 1, checkResult: 2 });
    assert.deepEqual(s.map(isUp), [true, false, false, true]);
  });
  it('rejects anything that is not format version 1', () => {
    assert.throws(() => parseServersState('Unknown command.\n'), /unexpected/);
  });
});

const members: RoutingMember[] = ['a', 'b', 'c'].map((name, i) => ({ name, host: '10.0.0.' + (i + 1), port: 5432, apiHost: '10.0.0.' + (i + 1), apiPort: 8008 }));

/** Compact state per backend/server: 'up', 'down', or 'maint' (forced maint, down). */
function states(spec: Record<string, 'up' | 'down' | 'maint'>): HaproxyServerState[] {
  return Object.entries(spec).map(([key, st]) => {
    const [backend, server] = key.split('/') as [string, string];
    return { backend, server, addr: '10.0.0.1', port: 5432, opState: st === 'up' ? 2 : 0, adminState: st === 'maint' ? 1 : 0, checkResult: 0 };
  });
}

const allUpFollowingChecks = states({ 'rw/a': 'up', 'rw/b': 'down', 'rw/c': 'down', 'ro/a': 'down', 'ro/b': 'up', 'ro/c': 'up' });
const settledOnA = states({ 'rw/a': 'up', 'rw/b': 'maint', 'rw/c': 'maint', 'ro/a': 'maint', 'ro/b': 'up', 'ro/c': 'up' });

const table: { name: string; target: RoutingTarget; current: HaproxyServerState[]; commands: string[]; reason: RegExp }[] = [
  {
    name: 'no primary in the view: nothing forced',
    target: { primary: null, primaryReady: false }, current: allUpFollowingChecks, commands: [], reason: /health checks decide/,
  },
  {
    name: 'first push: non-primaries leave rw with their sessions, the primary leaves ro',
    target: { primary: 'a', primaryReady: true }, current: allUpFollowingChecks,
    commands: [
      'set server ro/a state maint',
      'set server rw/b state maint', 'shutdown sessions server rw/b',
      'set server rw/c state maint', 'shutdown sessions server rw/c',
    ],
    reason: /^rw -> a$/,
  },
  {
    name: 'already in step: no commands',
    target: { primary: 'a', primaryReady: true }, current: settledOnA, commands: [], reason: /already agrees/,
  },
  {
    name: 'failover to b, promoted: b ready + health up at once, a cut off, a back to the read pool',
    target: { primary: 'b', primaryReady: true }, current: settledOnA,
    commands: [
      'set server rw/a state maint', 'shutdown sessions server rw/a', 'set server ro/a state ready',
      'set server rw/b state ready', 'set server rw/b health up', 'set server ro/b state maint',
    ],
    reason: /^rw -> b$/,
  },
  {
    name: 'view names b before its promotion: out of maint, but its checks bring it up',
    target: { primary: 'b', primaryReady: false }, current: settledOnA,
    commands: [
      'set server rw/a state maint', 'shutdown sessions server rw/a', 'set server ro/a state ready',
      'set server rw/b state ready', 'set server ro/b state maint',
    ],
    reason: /not promoted yet/,
  },
  {
    name: 'primary already up by its checks: no health override',
    target: { primary: 'b', primaryReady: true },
    current: states({ 'rw/a': 'maint', 'rw/b': 'up', 'rw/c': 'maint', 'ro/a': 'up', 'ro/b': 'maint', 'ro/c': 'up' }),
    commands: [], reason: /already agrees/,
  },
  {
    name: 'the view names a member HAProxy does not route: every rw server in maint',
    target: { primary: 'z', primaryReady: true }, current: allUpFollowingChecks,
    commands: [
      'set server rw/a state maint', 'shutdown sessions server rw/a',
      'set server rw/b state maint', 'shutdown sessions server rw/b',
      'set server rw/c state maint', 'shutdown sessions server rw/c',
    ],
    reason: /not a routed member/,
  },
  {
    name: 'a member missing from HAProxy (config not reloaded yet) is reported, others handled',
    target: { primary: 'a', primaryReady: true },
    current: states({ 'rw/a': 'up', 'rw/b': 'maint', 'ro/a': 'maint', 'ro/b': 'up' }),
    commands: [], reason: /c is not configured in HAProxy/,
  },
];

describe('planHaproxyUpdate', () => {
  for (const t of table) {
    it(t.name, () => {
      const plan = planHaproxyUpdate(t.target, members, t.current);
      assert.deepEqual([...plan.commands].sort(), [...t.commands].sort());
      assert.match(plan.reason, t.reason);
    });
  }
  it('orders maint before shutdown sessions for each server', () => {
    const plan = planHaproxyUpdate({ primary: 'b', primaryReady: true }, members, settledOnA);
    assert.ok(plan.commands.indexOf('set server rw/a state maint') < plan.commands.indexOf('shutdown sessions server rw/a'));
  });
  it('never leaves two rw servers outside maint', () => {
    for (const primary of ['a', 'b', 'c']) {
      for (const current of [allUpFollowingChecks, settledOnA]) {
        const plan = planHaproxyUpdate({ primary, primaryReady: true }, members, current);
        const maint = new Set(current.filter((s) => s.backend === 'rw' && s.adminState & 1).map((s) => s.server));
        for (const c of plan.commands) {
          const m = /^set server rw\/(\w+) state (\w+)$/.exec(c);
          if (m) (m[2] === 'maint' ? maint.add(m[1]!) : maint.delete(m[1]!));
        }
        assert.deepEqual(members.map((m) => m.name).filter((n) => !maint.has(n)), [primary]);
      }
    }
  });
});
