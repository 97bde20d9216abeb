// pgBackRest files and archive settings (pure renderers), and the archive status of a member.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderDynamicConf } from '../../src/agent/pg-config.js';
import { archiveCommands, archiveParameters, renderMemberConf, renderPgHostServerConf, renderRepoConf, type MemberFileInput, type RepoFileInput, type TlsServer } from '../../src/backup/render-pgbackrest.js';
import { archiveStatusOf, archivedUpTo, segmentStart, type ArchiverFacts } from '../../src/domain/archive.js';
import { chooseBackupSource } from '../../src/backup/operations.js';
import { InvalidInputError } from '../../src/domain/errors.js';
import type { MemberStatus } from '../../src/domain/types.js';

const PASS = 'c'.repeat(32);
const member: MemberFileInput = {
  stanza: 'main', repo: { kind: 'local', path: '/d/backup/repo' }, cipherPass: PASS, logDir: '/d/m/pgbackrest/log', lockDir: '/d/m/pgbackrest/lock',
  processMax: 2, spoolDir: '/d/m/pgbackrest/spool', pushQueueMax: '4GiB', self: { dataDir: '/d/m/data', port: 5432, socketDir: '/d/m' },
};
const repo: RepoFileInput = {
  stanza: 'main', repo: { kind: 'local', path: '/d/backup/repo' }, cipherPass: PASS, logDir: '/d/backup/log', lockDir: '/d/backup/lock', processMax: 2,
  members: [{ dataDir: '/d/a/data', port: 5432, socketDir: '/d/a' }, { dataDir: '/d/b/data', port: 5433, socketDir: '/d/b' }],
  retention: { full: 2, days: null },
};

test('member file: own pg1, own spool, async push, cipher, archive-mode-check off', () => {
  const t = renderMemberConf(member);
  for (const line of ['[main]', 'pg1-path=/d/m/data', 'pg1-port=5432', 'pg1-socket-path=/d/m', 'spool-path=/d/m/pgbackrest/spool', 'archive-async=y',
    'archive-push-queue-max=4GiB', 'io-timeout=5', 'repo1-cipher-type=aes-256-cbc', `repo1-cipher-pass=${PASS}`, 'compress-type=zst', 'archive-mode-check=n']) {
    assert.ok(t.split('\n').includes(line), `has ${line}`);
  }
  assert.ok(!t.includes('pg2-'), 'a member file names only the member itself');
});

test('repository file: every member as pgN, backup from a standby, retention', () => {
  const t = renderRepoConf(repo).split('\n');
  for (const line of ['pg1-path=/d/a/data', 'pg2-path=/d/b/data', 'pg2-port=5433', 'backup-standby=y', 'repo1-retention-full-type=count', 'repo1-retention-full=2', 'start-fast=y']) {
    assert.ok(t.includes(line), `has ${line}`);
  }
  const byDays = renderRepoConf({ ...repo, retention: { full: 2, days: 14 } }).split('\n');
  assert.ok(byDays.includes('repo1-retention-full-type=time') && byDays.includes('repo1-retention-full=14'));
});

test('TLS repository: host options, and the cipher on the member side too (the client decrypts); S3 options pass through', () => {
  const tls = renderMemberConf({ ...member, repo: { kind: 'tls', host: '10.0.0.9', port: 8432, path: '/var/lib/pgbackrest', caFile: '/etc/b/ca.crt', certFile: '/etc/b/c.crt', keyFile: '/etc/b/c.key' } });
  assert.match(tls, /^repo1-host=10\.0\.0\.9$/m);
  assert.match(tls, /^repo1-host-type=tls$/m);
  assert.match(tls, /^repo1-host-cert-file=\/etc\/b\/c\.crt$/m);
  assert.match(tls, new RegExp(`^repo1-cipher-pass=${PASS}$`, 'm'));
  const s3 = renderRepoConf({ ...repo, repo: { kind: 's3', path: '/ballast', options: { 's3-bucket': 'b', 's3-endpoint': 'minio.local', 's3-region': 'us-east-1' } } });
  assert.match(s3, /^repo1-type=s3$/m);
  assert.match(s3, /^repo1-s3-bucket=b$/m);
});

const server: TlsServer = { address: '10.0.0.9', port: 8432, caFile: '/t/ca.crt', certFile: '/t/bk.crt', keyFile: '/t/bk.key', clients: [{ cn: 'p1', stanzas: ['main'] }, { cn: 'p2', stanzas: ['main', 'other'] }] };

test('backup host: the repository file also configures its TLS server (one auth line per client CN); pg hosts reached over TLS', () => {
  const pgHost = { address: '10.0.0.3', port: 8432, caFile: '/t/ca.crt', certFile: '/t/bk.crt', keyFile: '/t/bk.key' };
  const t = renderRepoConf({ ...repo, members: [{ ...repo.members[0]!, host: pgHost }], server }).split('\n');
  for (const line of ['tls-server-address=10.0.0.9', 'tls-server-port=8432', 'tls-server-ca-file=/t/ca.crt', 'tls-server-cert-file=/t/bk.crt', 'tls-server-key-file=/t/bk.key',
    'tls-server-auth=p1=main', 'tls-server-auth=p2=main,other', 'pg1-host=10.0.0.3', 'pg1-host-type=tls', 'pg1-host-cert-file=/t/bk.crt', 'repo1-path=/d/backup/repo']) {
    assert.ok(t.includes(line), `has ${line}`);
  }
  assert.ok(t.indexOf('tls-server-address=10.0.0.9') < t.indexOf('[main]'), 'server options are global');
});

test('a member host\'s TLS server file: its own pg1, no repository, no cipher pass', () => {
  const t = renderPgHostServerConf({ stanza: 'main', server: { ...server, clients: [{ cn: 'bk', stanzas: ['main'] }] }, self: { dataDir: '/d/m/data', port: 5432, socketDir: '/d/m' }, logDir: '/d/s/log', lockDir: '/d/s/lock' });
  const lines = t.split('\n');
  for (const line of ['tls-server-auth=bk=main', 'pg1-path=/d/m/data', 'pg1-socket-path=/d/m', 'log-path=/d/s/log']) assert.ok(lines.includes(line), `has ${line}`);
  assert.doesNotMatch(t, /repo1-|cipher|pg1-host/);
});

test('renderers refuse bad values', () => {
  const bad: Array<[string, () => unknown]> = [
    ['newline in a path', () => renderMemberConf({ ...member, spoolDir: '/d/x\nrepo1-path=/evil' })],
    ['relative repo path', () => renderMemberConf({ ...member, repo: { kind: 'local', path: 'repo' } })],
    ['short cipher pass', () => renderMemberConf({ ...member, cipherPass: 'short' })],
    ['bad queue size', () => renderMemberConf({ ...member, pushQueueMax: '4 gigs' })],
    ['bad stanza', () => renderMemberConf({ ...member, stanza: 'Main]' })],
    ['no members', () => renderRepoConf({ ...repo, members: [] })],
    ['retention 0', () => renderRepoConf({ ...repo, retention: { full: 0, days: null } })],
    ['TLS server without clients', () => renderRepoConf({ ...repo, server: { ...server, clients: [] } })],
    ['TLS client CN with a newline', () => renderRepoConf({ ...repo, server: { ...server, clients: [{ cn: 'p1\ntls-server-auth=x', stanzas: ['main'] }] } })],
    ['TLS server port 0', () => renderRepoConf({ ...repo, server: { ...server, port: 0 } })],
    ['relative server key', () => renderPgHostServerConf({ stanza: 'main', server: { ...server, keyFile: 'bk.key' }, self: { dataDir: '/d/m/data', port: 5432, socketDir: '/d/m' }, logDir: '/d/s/log', lockDir: '/d/s/lock' })],
    ['unknown s3 option', () => renderRepoConf({ ...repo, repo: { kind: 's3', path: '/b', options: { 'cipher-pass': 'x' } } })],
    ['odd path in archive_command', () => archiveParameters('/d/m/pg backrest.conf', 'main', 60)],
    ['quote in archive_command', () => archiveParameters("/d/m/x';rm -rf /;'.conf", 'main', 60)],
  ];
  for (const [name, fn] of bad) assert.throws(fn, InvalidInputError, name);
});

test('archive parameters: always on every member, restore from the archive, timeout', () => {
  const p = archiveParameters('/d/m/pgbackrest.conf', 'main', 60);
  assert.deepEqual(p, {
    archive_mode: 'always',
    restore_command: 'pgbackrest --config=/d/m/pgbackrest.conf --stanza=main --io-timeout=2 archive-get %f "%p"',
    archive_timeout: '60s',
  });
});

test('archive commands by role: the primary pushes, a standby only proves the segment is archived', () => {
  const c = archiveCommands('/d/m/pgbackrest.conf', 'main', '/d/m/pgbackrest/check.tmp');
  assert.equal(c.push, 'pgbackrest --config=/d/m/pgbackrest.conf --stanza=main archive-push %p');
  assert.match(c.check, /--no-archive-async archive-get %f \/d\/m\/pgbackrest\/check\.tmp/);
  assert.doesNotMatch(c.check, /archive-push/);
  const primary = renderDynamicConf('a', { kind: 'primary', syncStandbys: [] }, '/p', c);
  assert.match(primary, /^archive_command = 'pgbackrest .* archive-push %p'$/m);
  const standby = renderDynamicConf('b', { kind: 'standby', upstream: { name: 'a', host: 'h', port: 1 } }, '/p', c);
  assert.match(standby, /^archive_command = 'for i in .*archive-get %f/m);
  assert.doesNotMatch(renderDynamicConf('b', { kind: 'standby', upstream: { name: 'a', host: 'h', port: 1 } }, '/p'), /archive_command/, 'none without archiving');
});

test('archivedUpTo and segmentStart', () => {
  const cases: Array<[string, string | null]> = [
    ['000000010000000000000005', '0/6000000'],
    ['0000000100000000000000FF', '1/0'],
    ['000000020000000100000003', '1/4000000'],
    ['000000010000000000000005.partial', '0/5000000'],
    ['000000010000000000000005.00000028.backup', '0/5000000'],
    ['00000002.history', null],
  ];
  for (const [name, want] of cases) assert.equal(archivedUpTo(name), want, name);
  assert.equal(segmentStart('0/5000028'), '0/5000000');
  assert.equal(segmentStart('1/FFFFFFF'), '1/F000000');
});

const facts = (f: Partial<ArchiverFacts>): ArchiverFacts => ({
  mode: 'always', archivedCount: 3, lastArchivedWal: '000000010000000000000004', lastArchivedAt: 1_000_000, failedCount: 0,
  lastFailedWal: null, lastFailedAt: null, oldestReady: null, oldestReadyAt: null, readyCount: 0, ...f,
});

test('archive status: lag, failing, standby (no lag)', () => {
  const now = 1_100_000;
  const cases: Array<{ name: string; f: ArchiverFacts; lsn: string | null; want: Partial<ReturnType<typeof archiveStatusOf>> }> = [
    { name: 'nothing waits: only the current segment is unarchived', f: facts({}), lsn: '0/5000100', want: { lagBytes: 0x100, lagSeconds: 0, failing: false } },
    { name: 'two segments wait', f: facts({ oldestReady: '000000010000000000000005', oldestReadyAt: 1_040_000, readyCount: 2 }), lsn: '0/7000010', want: { lagBytes: 0x2000010, lagSeconds: 60, waitingSegments: 2 } },
    { name: 'failure after the last success', f: facts({ lastFailedWal: '000000010000000000000005', lastFailedAt: 1_050_000 }), lsn: '0/5000000', want: { failing: true } },
    { name: 'success after a failure', f: facts({ lastFailedAt: 900_000 }), lsn: '0/5000000', want: { failing: false } },
    { name: 'failure and never a success', f: facts({ lastArchivedWal: null, lastArchivedAt: null, lastFailedAt: 5 }), lsn: null, want: { failing: true, lagBytes: null } },
    { name: 'standby: no lag figures', f: facts({}), lsn: null, want: { lagBytes: null, lagSeconds: null } },
    { name: 'archiving off: no lag figures', f: facts({ mode: 'off' }), lsn: '0/5000100', want: { lagBytes: null } },
  ];
  for (const c of cases) {
    const got = archiveStatusOf(c.f, c.lsn, now);
    for (const [k, v] of Object.entries(c.want)) assert.equal((got as unknown as Record<string, unknown>)[k], v, `${c.name}: ${k}`);
  }
});

const status = (name: string, o: Partial<MemberStatus>): MemberStatus => ({
  name, host: '127.0.0.1', port: 1, apiPort: 2, agentPid: 1, postgresPid: 1, seq: 1, at: 0, viewGeneration: 1, postgres: 'running', healthy: true,
  inRecovery: true, timeline: 1, systemId: '1', lsn: '0/1', flushLsn: null, receiveLsn: null, replayLsn: null, lagBytes: 0, lagMs: 0,
  appliedSync: null, replication: [], streamingFrom: 'a', primaryReachable: true, primaryUnreachableForMs: 0, fenced: false,
  restartAttempts: 0, downForMs: null, rejoin: null, activity: '', lastError: null, ...o,
});

test('backup source: async standby first, then least lag; primary alone when none streams; no healthy primary refused', () => {
  const a = status('a', { inRecovery: false, streamingFrom: null });
  const cases: Array<{ name: string; members: MemberStatus[]; sync: string[]; want: string | null }> = [
    { name: 'async over sync', members: [a, status('b', {}), status('c', { lagBytes: 500 })], sync: ['b'], want: 'c' },
    { name: 'least lag among asyncs', members: [a, status('b', { lagBytes: 900 }), status('c', { lagBytes: 5 })], sync: [], want: 'c' },
    { name: 'sync when it is the only one', members: [a, status('b', {})], sync: ['b'], want: 'b' },
    { name: 'unhealthy or not streaming standbys are skipped', members: [a, status('b', { healthy: false }), status('c', { streamingFrom: null })], sync: [], want: null },
  ];
  for (const c of cases) assert.equal(chooseBackupSource(c.members, 'a', c.sync).standby, c.want, c.name);
  assert.throws(() => chooseBackupSource([status('a', { inRecovery: true })], 'a', []), /no healthy primary/);
  assert.throws(() => chooseBackupSource([a], null, []), /no healthy primary/);
});
