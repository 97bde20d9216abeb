import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from '../../src/domain/errors.js';
import { poolerAdminPasswordOf, secretsSchema } from '../../src/domain/config.js';
import { coordinatorIds, layoutOf, memberNames } from '../../src/local/layout.js';
import { generateSecrets, liveProcesses } from '../../src/local/prepare.js';
import { readState, updateState, writeState, type DeploymentState } from '../../src/local/state.js';

const base = mkdtempSync(join(tmpdir(), 'ballast-local-state-'));
test.after(() => rmSync(base, { recursive: true, force: true }));

function sample(dir: string): DeploymentState {
  return {
    version: 1,
    cluster: 'main',
    dir,
    createdAt: 1,
    etcd: { name: 'etcd1', clientPort: 2379, peerPort: 2380, proc: null },
    members: memberNames(3).map((name, i) => ({ name, host: '127.0.0.1', port: 5001 + i, apiPort: 8001 + i, proc: null })),
    coordinators: coordinatorIds().map((id) => ({ id, proc: null })),
    supervisor: null,
  };
}

test('state file: missing is null', () => {
  assert.equal(readState(join(base, 'nope.json')), null);
});

test('state file: round trip, mode 0600, no temp file left', () => {
  const path = join(base, 'state.json');
  const s = sample(base);
  s.members[0]!.proc = { pid: 42, startTime: '12345' };
  writeState(path, s);
  assert.deepEqual(readState(path), s);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  writeState(path, sample(base));
  assert.equal(readState(path)?.members[0]?.proc, null);
  assert.deepEqual(readdirSync(base).filter((f) => f.includes('tmp')), []);
});

test('state file: updateState changes one field', () => {
  const path = join(base, 'u.json');
  writeState(path, sample(base));
  updateState(path, (s) => {
    s.supervisor = { pid: 7, startTime: '1' };
  });
  assert.deepEqual(readState(path)?.supervisor, { pid: 7, startTime: '1' });
});

test('state file: damaged files are clear errors', () => {
  const path = join(base, 'bad.json');
  writeFileSync(path, '{not json');
  assert.throws(() => readState(path), (e: unknown) => e instanceof InvalidInputError && /not valid JSON/.test(e.message));
  writeFileSync(path, JSON.stringify({ ...sample(base), members: [{ name: 'Bad', host: 'h', port: 1, apiPort: 2, proc: null }] }));
  assert.throws(() => readState(path), (e: unknown) => e instanceof InvalidInputError && /damaged: members\.0\.name/.test(e.message));
  writeFileSync(path, JSON.stringify({ ...sample(base), extra: 1 }));
  assert.throws(() => readState(path), InvalidInputError);
});

test('writeState refuses an invalid state (nothing written)', () => {
  const path = join(base, 'invalid.json');
  const s = sample(base);
  s.etcd.clientPort = 0;
  assert.throws(() => writeState(path, s));
  assert.equal(readState(path), null);
});

test('layout: names and paths', () => {
  assert.deepEqual(memberNames(3), ['pg1', 'pg2', 'pg3']);
  const l = layoutOf('/srv/b');
  assert.equal(l.state, '/srv/b/state.json');
  assert.equal(l.secrets, '/srv/b/secrets.json');
  assert.equal(l.memberData('pg2'), '/srv/b/members/pg2/data');
  assert.equal(l.agentConfig('pg2'), '/srv/b/members/pg2/agent.json');
  assert.equal(l.coordinatorConfig('co1'), '/srv/b/coordinators/co1.json');
  assert.equal(l.log('pg1'), '/srv/b/logs/pg1.log');
});

test('generated secrets: valid, distinct, 32 base64url characters', () => {
  const s = generateSecrets();
  assert.deepEqual(secretsSchema.parse(s), s);
  assert.equal(new Set(Object.values(s)).size, 5);
  assert.ok(s.poolerAdminPassword !== undefined, 'new clusters get a pooler admin password');
  assert.ok(s.repoCipherPass !== undefined, 'new clusters get a backup repository cipher pass');
  for (const v of Object.values(s)) assert.match(v, /^[A-Za-z0-9_-]{32}$/);
});

test('pooler admin password: stored one wins; older secrets files derive a stable one', () => {
  const s = generateSecrets();
  assert.equal(poolerAdminPasswordOf(s), s.poolerAdminPassword);
  const { poolerAdminPassword: _drop, ...old } = s;
  const derived = poolerAdminPasswordOf(secretsSchema.parse(old));
  assert.equal(derived, poolerAdminPasswordOf(secretsSchema.parse(old)));
  assert.ok(derived.length >= 32 && !Object.values(old).includes(derived));
});

test('state files with and without routing (older ones) both read back', () => {
  const path = join(base, 'routing.json');
  const s = sample(base);
  writeState(path, s);
  assert.equal(readState(path)?.routing, undefined);
  s.routing = { rwPort: 7001, roPort: 7002, poolerPort: 7003 };
  s.routers = [{ id: 'rt1', proc: null }];
  writeState(path, s);
  assert.deepEqual(readState(path)?.routing, s.routing);
  assert.deepEqual(readState(path)?.routers, s.routers);
});

test('liveProcesses: stale pids are ignored', () => {
  const s = sample(base);
  s.supervisor = { pid: process.pid, startTime: '1' }; // our pid, wrong start time: a reused pid
  s.etcd.proc = { pid: 2 ** 22 + 1, startTime: '1' }; // beyond pid_max: never alive
  assert.deepEqual(liveProcesses(s, layoutOf(base)), []);
});
