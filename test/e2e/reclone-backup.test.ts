// Re-clones from the newest backup (issue 9): a member that must be cloned afresh restores the
// newest backup with `pgbackrest restore --delta` into its data directory, catches up from the
// archive and the primary, and says so in events and its rejoin record; when the restore path
// fails, pg_basebackup is the fallback. `ballast up` clones its standbys before the first backup
// exists: those use pg_basebackup at once.
// Two members (the quickest cluster with a re-clone); agents restart 5 s after a kill, the
// window in which the test damages a data directory.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isPidAlive } from '../../src/local/proc.js';
import { ballast, TestCluster } from '../../src/testkit/cluster.js';
import type { ClusterDescription, MemberDescription } from '../../src/cli/describe.js';
import { CLONE_MARKER } from '../../src/agent/postgres-control.js';

const RESTART_DELAY_MS = 5000;
const WAL_SEGMENT = /^[0-9A-F]{24}$/;

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.start({ members: 2, restartDelayMs: RESTART_DELAY_MS });
});
after(async () => {
  await cluster?.stop();
});


/** Kill -9 the member's agent and postgres; resolves once all of them are gone (before the supervisor restarts the agent). */
async function killHostAndWait(member: string): Promise<number | null> {
  const p = cluster.pids(member);
  cluster.killHost(member);
  const all = [p.agent, p.postmaster, ...p.children];
  for (let i = 0; i < 100 && all.some(isPidAlive); i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(all.filter(isPidAlive), [], `every process of ${member} is gone`);
  return p.agent;
}

/** The supervisor has not restarted the member's agent yet (the damage happened while nothing of it ran). */
function assertNotRestarted(member: string, killedAgent: number | null): void {
  const now = cluster.pids(member).agent;
  assert.ok(now === killedAgent || !isPidAlive(now), `the supervisor restarted ${member}'s agent before its data directory was damaged; the scenario did not happen as planned`);
}

function member(d: ClusterDescription, name: string): MemberDescription {
  return d.members.find((m) => m.name === name)!;
}

async function ids(name: string): Promise<number[]> {
  return (await cluster.query<{ id: number }>(name, 'SELECT id FROM reclone ORDER BY id')).map((r) => Number(r.id));
}

/** Until `name` (a standby) holds exactly rows 1..n. */
async function waitRows(name: string, n: number): Promise<void> {
  const want = Array.from({ length: n }, (_, i) => i + 1);
  const end = Date.now() + 30_000;
  let got: number[] | string = [];
  for (;;) {
    got = await ids(name).catch((e: Error) => e.message);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    if (Date.now() > end) assert.fail(`${name} holds ${JSON.stringify(got)}, not rows 1..${n}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function insert(primary: string, from: number, to: number): Promise<void> {
  await cluster.query(primary, 'INSERT INTO reclone SELECT g FROM generate_series($1::int, $2::int) g', [from, to]);
}

function last(messages: string[], re: RegExp): string | undefined {
  return [...messages].reverse().find((m) => re.test(m));
}

/** Since its newest start, the member's postgres restored WAL from the archive (restore_command). */
function assertReplayedFromArchive(name: string): void {
  const log = readFileSync(join(cluster.dir, 'members', name, 'postgres.log'), 'utf8');
  const sinceStart = log.slice(log.lastIndexOf('starting PostgreSQL'));
  assert.match(sinceStart, /restored log file "[0-9A-F]{24}" from archive/, `${name} replayed WAL from the archive`);
}

async function agentEvents(name: string): Promise<string[]> {
  return (await cluster.eventRecords(500)).filter((e) => e.source === `agent:${name}`).map((e) => e.message);
}

test('ballast up: the standby was cloned with pg_basebackup at once (no backup existed yet)', async () => {
  const d = await cluster.waitHealthy();
  const standby = d.members.find((m) => m.role !== 'primary')!.name;
  const clone = (await agentEvents(standby)).find((m) => /code clone-(basebackup|restore)\b/.test(m));
  assert.ok(clone, `a clone event of ${standby}`);
  assert.match(clone, new RegExp(`^${standby}: cloned from \\w+ with pg_basebackup \\(\\d+\\.\\d s; new member: cloning from the primary; not from a backup: .*\\(code clone-basebackup\\)$`));
  assert.match(clone, /holds no backup yet|did not answer/, clone);
  console.log(`  up: ${clone}`);
});

test('a former primary whose pg_rewind fails is cloned from the newest backup (restore --delta), catches up from the archive and streams', async () => {
  const d0 = await cluster.waitHealthy();
  const old = d0.members.find((m) => m.role === 'primary')!.name;
  const other = d0.members.find((m) => m.name !== old)!.name;
  const list = JSON.parse(await ballast(['backup', 'list', '--dir', cluster.dir, '--json'])) as { backups: { id: string }[] };
  const newest = list.backups.at(-1)!.id;
  // Rows after the backup: some reach the archive (a WAL switch), the rest only the primaries' pg_wal.
  await cluster.query(old, 'CREATE TABLE reclone (id int PRIMARY KEY)');
  await insert(old, 1, 100);
  await cluster.superQuery(old, 'SELECT pg_switch_wal()');
  await insert(old, 101, 200);

  const t0 = performance.now();
  const killedAgent = await killHostAndWait(old);
  let newPrimary: string;
  try {
    const d = await cluster.waitFor('a new primary', (x) => member(x, other).role === 'primary', 30_000);
    newPrimary = member(d, other).name;
    // pg_rewind needs the crashed target's WAL for its crash recovery: without it, it fails.
    const walDir = join(cluster.dir, 'members', old, 'data', 'pg_wal');
    const deleted = readdirSync(walDir).filter((f) => WAL_SEGMENT.test(f));
    for (const f of deleted) rmSync(join(walDir, f));
    assert.ok(deleted.length > 0, `deleted WAL segments in ${walDir}`);
    assertNotRestarted(old, killedAgent);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await cluster.diagnostics()}`);
  }

  let back: ClusterDescription;
  try {
    back = await cluster.waitFor(`${old} back as a streaming standby, cloned from the backup`, (x) => {
      const m = member(x, old);
      return (m.role === 'sync' || m.role === 'async') && m.rejoin?.method === 'restore' && m.rejoin.result === 'ok';
    }, 90_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await cluster.diagnostics()}`);
  }
  const rejoinedS = (performance.now() - t0) / 1000;
  const o = member(back, old);
  assert.match(o.rejoin!.reason, new RegExp(`pg_rewind failed.*; from the backup ${newest}`, 's'), o.rejoin!.reason);
  assert.equal(typeof o.rejoin!.tookMs, 'number');
  assert.equal(o.timeline, member(back, newPrimary).timeline, 'it follows the new primary\'s timeline');
  const events = await agentEvents(old);
  const restored = events.find((m) => /code clone-restore\)/.test(m));
  assert.ok(restored, `a clone-restore event\n${events.slice(-10).join('\n')}`);
  assert.match(restored, new RegExp(`^${old}: cloned from the backup ${newest} \\(pgbackrest restore --delta, \\d+\\.\\d s\\), then catching up from the archive and ${newPrimary} \\(pg_rewind failed`));
  assert.ok(!events.some((m) => /code clone-restore-failed\)/.test(m)), 'no restore failed (no pg_basebackup fallback)');
  // pgBackRest's recovery settings are gone: Ballast's standby setup (standby.signal, its own
  // restore_command and primary_conninfo) is the only one.
  const data = join(cluster.dir, 'members', old, 'data');
  const auto = readFileSync(join(data, 'postgresql.auto.conf'), 'utf8');
  assert.doesNotMatch(auto, /^\s*(restore_command|recovery_target\w*|archive_mode)\s*=/m, auto);
  assert.equal(existsSync(join(data, 'recovery.signal')), false, 'no recovery.signal');
  assert.equal(existsSync(join(data, 'standby.signal')), true, 'standby.signal');
  assert.equal(existsSync(join(cluster.dir, 'members', old, CLONE_MARKER)), false, 'the clone is marked finished');
  assertReplayedFromArchive(old);

  // The rows written before the failover, and one written now (streamed), are on the clone.
  await insert(newPrimary, 201, 201);
  await waitRows(old, 201);
  console.log(`  restore path: ${old} back as a streaming standby ${rejoinedS.toFixed(1)} s after the kill; ${restored}`);
});

/** Kill the standby's host, remove its data directory, and wait until it is a streaming standby again, cloned by `method`. */
async function loseDataDirAndRejoin(standby: string, method: 'restore' | 'basebackup'): Promise<ClusterDescription> {
  const killedAt = Date.now();
  const killedAgent = await killHostAndWait(standby);
  rmSync(join(cluster.dir, 'members', standby, 'data'), { recursive: true, force: true });
  assertNotRestarted(standby, killedAgent);
  return cluster.waitFor(`${standby} back as a streaming standby, cloned by ${method}`, (x) => {
    const m = member(x, standby);
    return (m.role === 'sync' || m.role === 'async') && m.rejoin?.method === method && m.rejoin.result === 'ok' && m.rejoin.at >= killedAt;
  }, 90_000);
}

test('a standby whose data directory is gone is cloned from the backup into a new 0700 directory', async () => {
  const d0 = await cluster.waitHealthy();
  const primary = d0.members.find((m) => m.role === 'primary')!.name;
  const standby = d0.members.find((m) => m.name !== primary)!.name;
  await insert(primary, 202, 300);
  const t0 = performance.now();
  let back: ClusterDescription;
  try {
    back = await loseDataDirAndRejoin(standby, 'restore');
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await cluster.diagnostics()}`);
  }
  const rejoinedS = (performance.now() - t0) / 1000;
  assert.match(member(back, standby).rejoin!.reason, /^new member: cloning from the primary; from the backup \S+$/);
  const restored = last(await agentEvents(standby), /code clone-restore\)/);
  assert.match(restored ?? '', new RegExp(`^${standby}: cloned from the backup \\S+ \\(pgbackrest restore --delta, \\d+\\.\\d s\\), then catching up from the archive and ${primary} \\(new member: cloning from the primary\\)`));
  const data = join(cluster.dir, 'members', standby, 'data');
  const st = statSync(data);
  assert.equal(st.mode & 0o777, 0o700, 'the new data directory is 0700');
  assert.equal(st.uid, statSync(join(data, 'PG_VERSION')).uid, 'owned like its files (the postgres OS user)');
  assertReplayedFromArchive(standby);
  await insert(primary, 301, 301);
  await waitRows(standby, 301);
  console.log(`  restore into a new directory: ${standby} back ${rejoinedS.toFixed(1)} s after the kill; ${restored}`);
});

test('the restore path fails (the backup cannot be read): pg_basebackup is the fallback, into a removed data directory', async () => {
  const d0 = await cluster.waitHealthy();
  const primary = d0.members.find((m) => m.role === 'primary')!.name;
  const standby = d0.members.find((m) => m.name !== primary)!.name;
  const stanzaDir = join(cluster.dir, 'backup', 'repo', 'backup', cluster.info.cluster);
  const labels = readdirSync(stanzaDir).filter((f) => /^\d{8}-\d{6}F/.test(f)).map((f) => join(stanzaDir, f));
  assert.ok(labels.length > 0, `backups in ${stanzaDir}`);
  const modes = labels.map((l) => statSync(l).mode & 0o7777);
  // `pgbackrest info` still lists the backups (backup.info); their manifests cannot be read.
  for (const l of labels) chmodSync(l, 0o000);
  const t0 = performance.now();
  let back: ClusterDescription;
  try {
    back = await loseDataDirAndRejoin(standby, 'basebackup');
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await cluster.diagnostics()}`);
  } finally {
    labels.forEach((l, i) => chmodSync(l, modes[i]!));
  }
  const rejoinedS = (performance.now() - t0) / 1000;
  const s = member(back, standby);
  assert.match(s.rejoin!.reason, /^new member: cloning from the primary; not from a backup: restore from the backup \S+ failed after/, s.rejoin!.reason);
  const events = await agentEvents(standby);
  const failed = last(events, /code clone-restore-failed\)/);
  const cloned = last(events, /code clone-basebackup\)/);
  assert.ok(failed, `a clone-restore-failed event\n${events.slice(-10).join('\n')}`);
  assert.match(failed, new RegExp(`^${standby}: restore from the backup \\S+ failed after \\d+\\.\\d s \\(.+\\); falling back to pg_basebackup from ${primary}`));
  assert.ok(cloned && events.lastIndexOf(cloned) > events.lastIndexOf(failed), 'the pg_basebackup clone event follows');
  assert.match(cloned, new RegExp(`^${standby}: cloned from ${primary} with pg_basebackup \\(\\d+\\.\\d s; new member: cloning from the primary; not from a backup: restore from the backup`));
  assert.equal(statSync(join(cluster.dir, 'members', standby, 'data')).mode & 0o777, 0o700, 'the data directory is 0700');
  await insert(primary, 302, 302);
  await waitRows(standby, 302);
  console.log(`  fallback: ${standby} back via pg_basebackup ${rejoinedS.toFixed(1)} s after the kill\n  ${failed}\n  ${cloned}`);
});
