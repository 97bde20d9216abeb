// Backups, point-in-time recovery and undrop on one real cluster (pgBackRest from Debian):
// archiving on every member, backup run/list contracts, restore --time (three targets), --lsn
// and --xid into new clusters holding exactly the rows committed up to the target, undrop of a
// dropped table under write load, refusals of bad input that change nothing, and (last, as it
// breaks the cluster) no gap in the archive across a host crash of the primary.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { ballast, TestCluster, type UpInfo } from '../../src/testkit/cluster.js';
import { makeTempDir, removeTempDir } from '../../src/testkit/tmp.js';
import { Writer } from '../../src/testkit/writer.js';

let cluster: TestCluster;
let scratch: string;

before(async () => {
  cluster = await TestCluster.start({ members: 3 });
  scratch = await makeTempDir('ballast-e2e-restores-');
});
after(async () => {
  for (const d of existsSync(scratch ?? '/nonexistent') ? readdirSync(scratch) : []) {
    await ballast(['down', '--dir', join(scratch, d)]).catch(() => undefined);
  }
  if (scratch && !process.env.KEEP_TMP) await removeTempDir(scratch);
  await cluster?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `ballast restore ... --members 1 --json` into a fresh dir under scratch; returns the adopted cluster. */
async function restore(name: string, target: string[]): Promise<TestCluster> {
  const dir = join(scratch, name);
  const out = await ballast(['restore', '--from', cluster.dir, '--into', dir, ...target, '--members', '1', '--json'], {}, 300_000);
  return TestCluster.adopt(dir, JSON.parse(out) as UpInfo);
}

async function idsOn(c: TestCluster, table: string): Promise<number[]> {
  const rows = await c.queryUri<{ id: number }>(c.info.endpoints.rw, `SELECT id FROM ${table} ORDER BY id`, 10_000);
  return rows.map((r) => Number(r.id));
}

/** Run the CLI expecting a usage/failure exit; returns stderr. */
async function refused(args: string[]): Promise<string> {
  try {
    await ballast(args, {}, 120_000);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`ballast ${args.join(' ')} succeeded but should have been refused`);
}

test('every member archives; status and backup list report the archive and the first full backup', async () => {
  await cluster.waitHealthy();
  const st = JSON.parse(await ballast(['status', '--dir', cluster.dir, '--json'])) as {
    members: { name: string; archive: { mode: string } | null }[];
    archive: { lagBytes: number | null; lagSeconds: number | null; failing: boolean } | null;
  };
  for (const m of st.members) {
    assert.equal(m.archive?.mode, 'always', `${m.name} archives (archive_mode=always)`);
    // The files that hold the repository cipher pass are 0600.
    assert.equal(statSync(join(cluster.dir, 'members', m.name, 'pgbackrest.conf')).mode & 0o777, 0o600);
  }
  assert.equal(statSync(join(cluster.dir, 'backup', 'pgbackrest.conf')).mode & 0o777, 0o600);
  assert.ok(st.archive !== null && st.archive.failing === false && typeof st.archive.lagBytes === 'number', `archive in status: ${JSON.stringify(st.archive)}`);
  const list = JSON.parse(await ballast(['backup', 'list', '--dir', cluster.dir, '--json'])) as {
    backups: { id: string; type: string; member: string }[]; restorableFrom: string | null; restorableTo: string | null;
    archive: { lagBytes: number | null; lagSeconds: number | null; lastArchived: string | null; failing: boolean };
  };
  assert.equal(list.backups.length, 1, 'up took one first full backup');
  assert.equal(list.backups[0]!.type, 'full');
  assert.ok(list.restorableFrom && list.restorableTo, 'window known');
  for (const k of ['lagBytes', 'lagSeconds', 'lastArchived', 'failing']) assert.ok(k in list.archive, `archive.${k}`);
});

interface Row { id: number; xid: string; lsn: string; ackedAt: number; startedAt: number }

test('PITR: restore --time at three moments, --lsn and --xid: each new cluster has exactly the rows committed up to the target', async () => {
  const d = await cluster.waitHealthy();
  const primary = d.members.find((m) => m.role === 'primary')!.name;
  await cluster.query(primary, 'CREATE TABLE pitr (id int PRIMARY KEY, xid bigint NOT NULL)');
  const b = JSON.parse(await ballast(['backup', 'run', '--dir', cluster.dir, '--type', 'full', '--json'], {}, 300_000)) as Record<string, unknown>;
  for (const k of ['id', 'type', 'member', 'startLsn', 'stopLsn', 'startedAt', 'stoppedAt', 'sizeBytes']) assert.ok(k in b, `backup run --json has ${k}`);
  assert.equal(b.type, 'full');
  assert.notEqual(b.member, primary, 'taken from a standby');
  const c = new pg.Client({ connectionString: cluster.memberUri(primary) });
  await c.connect();
  const rows: Row[] = [];
  try {
    for (let id = 1; id <= 12; id++) {
      const startedAt = Date.now();
      const r = await c.query<{ xid: string }>('INSERT INTO pitr VALUES ($1, txid_current()) RETURNING xid::text', [id]);
      const ackedAt = Date.now();
      const l = await c.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      rows.push({ id, xid: r.rows[0]!.xid, lsn: l.rows[0]!.lsn, ackedAt, startedAt });
      await sleep(400);
    }
  } finally {
    await c.end();
  }
  const between = (k: number) => new Date((rows[k - 1]!.ackedAt + rows[k]!.startedAt) / 2).toISOString();
  const cases: Array<{ name: string; target: string[]; upTo: number }> = [
    { name: 'time-3', target: ['--time', between(3)], upTo: 3 },
    { name: 'time-7', target: ['--time', between(7)], upTo: 7 },
    { name: 'time-10', target: ['--time', between(10).replace('Z', '+00:00')], upTo: 10 },
    { name: 'lsn-5', target: ['--lsn', rows[4]!.lsn], upTo: 5 },
    { name: 'xid-8', target: ['--xid', rows[7]!.xid], upTo: 8 },
  ];
  for (const k of cases) {
    const r = await restore(k.name, k.target);
    try {
      const ids = await idsOn(r, 'pitr');
      assert.deepEqual(ids, Array.from({ length: k.upTo }, (_, i) => i + 1), `${k.name} (${k.target.join(' ')}) holds rows 1..${k.upTo}`);
      const st = JSON.parse(await ballast(['status', '--dir', r.dir, '--json'])) as { members: { role: string }[] };
      assert.equal(st.members[0]!.role, 'primary', 'the restored cluster runs');
      assert.equal(existsSync(join(r.dir, 'backup', 'restore-source.conf')), false, 'the source cipher pass does not stay in the new cluster');
    } finally {
      await r.stop();
    }
  }
});

test('undrop: a dropped table (1 million rows, two indexes) comes back identical while writes go on', async () => {
  const d = await cluster.waitHealthy();
  const primary = d.members.find((m) => m.role === 'primary')!.name;
  await cluster.query(primary, 'CREATE TABLE big (id int PRIMARY KEY, n int NOT NULL, v text)');
  await cluster.query(primary, "INSERT INTO big SELECT g, g % 1000, md5(g::text) FROM generate_series(1, 1000000) g");
  await cluster.query(primary, 'CREATE INDEX big_n ON big (n)');
  const hash = async (table: string) => (await cluster.query<{ h: string }>(primary, `SELECT md5(string_agg(id || ':' || n || ':' || v, ',' ORDER BY id)) AS h FROM ${table}`))[0]!.h;
  const before = await hash('big');
  const writer = new Writer(cluster.writerTarget(), { pauseMs: 20 });
  await writer.start();
  await writer.waitForAcks(20);
  await cluster.query(primary, 'DROP TABLE big');
  const droppedAt = performance.now();
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(await ballast(['undrop', '--dir', cluster.dir, '--table', 'public.big', '--json'], {}, 300_000)) as Record<string, unknown>;
    await writer.waitForAcks(20);
  } finally {
    await writer.stop();
  }
  const result = writer.result;
  for (const k of ['table', 'restoredAs', 'rows', 'droppedByXid', 'droppedAt', 'seconds']) assert.ok(k in r, `undrop --json has ${k}`);
  assert.equal(r.restoredAs, 'public.big');
  assert.equal(r.rows, 1000000);
  assert.match(String(r.droppedByXid), /^\d+$/);
  assert.equal(await hash('big'), before, 'identical rows');
  const idx = await cluster.query<{ indexname: string }>(primary, "SELECT indexname FROM pg_indexes WHERE tablename = 'big' ORDER BY 1");
  assert.deepEqual(idx.map((x) => x.indexname), ['big_n', 'big_pkey']);
  assert.ok(result.acked.some((a) => a.at > droppedAt), 'writes went on during the undrop');
  assert.deepEqual(await cluster.missingOn(primary, result.acked), []);
  // The name is taken now: a second undrop never overwrites; --as an existing name is refused at once.
  const msg = await refused(['undrop', '--dir', cluster.dir, '--table', 'big', '--as', 'pitr']);
  assert.match(msg, /exists already; undrop never overwrites/);
  console.log(`undrop of 1 million rows: ${r.seconds} s`);
});

test('bad input against a real cluster: clear errors, nothing changed', async () => {
  const notEmpty = join(scratch, 'not-empty');
  mkdirSync(notEmpty);
  writeFileSync(join(notEmpty, 'keep'), 'x');
  const cases: Array<{ args: string[]; message: RegExp }> = [
    { args: ['restore', '--from', cluster.dir, '--into', notEmpty, '--latest'], message: /is not empty/ },
    { args: ['restore', '--from', join(scratch, 'nothing-here'), '--into', join(scratch, 'n1'), '--latest'], message: /holds no ballast deployment/ },
    { args: ['restore', '--from', cluster.dir, '--into', join(cluster.dir, 'inside'), '--latest'], message: /outside the source deployment/ },
    { args: ['restore', '--from', cluster.dir, '--into', join(scratch, 'n2'), '--time', '2001-01-01T00:00:00Z'], message: /restorable window/ },
    { args: ['restore', '--from', cluster.dir, '--into', join(scratch, 'n3'), '--time', '2099-01-01T00:00:00Z'], message: /in the future/ },
    { args: ['restore', '--from', cluster.dir, '--into', join(scratch, 'n4'), '--lsn', '0/10'], message: /before the end of the oldest backup/ },
    { args: ['undrop', '--dir', cluster.dir, '--table', 'nosuchschema.t'], message: /schema nosuchschema does not exist/ },
    { args: ['undrop', '--dir', cluster.dir, '--table', 'pitr', '--as', 'pitr'], message: /never overwrites/ },
    { args: ['backup', 'run', '--dir', join(scratch, 'nothing-here')], message: /holds no ballast deployment/ },
  ];
  for (const c of cases) assert.match(await refused(c.args), c.message, c.args.join(' '));
  for (const n of ['n1', 'n2', 'n3', 'n4']) assert.equal(existsSync(join(scratch, n)), false, `${n} was not created`);
  assert.deepEqual(readdirSync(notEmpty), ['keep']);
  // Two backups at once: the second is refused while the first runs; the first completes.
  const first = ballast(['backup', 'run', '--dir', cluster.dir, '--type', 'full', '--json'], {}, 300_000);
  const lock = join(cluster.dir, 'backup', 'lock');
  for (let i = 0; i < 300 && !(existsSync(lock) && readdirSync(lock).some((f) => f.endsWith('backup.lock'))); i++) await sleep(100);
  const second = await refused(['backup', 'run', '--dir', cluster.dir, '--type', 'incr']);
  assert.match(second, /already running/);
  assert.equal((JSON.parse(await first) as { type: string }).type, 'full');
  // Retention (2 full backups by default): this third full backup (after up's and the first
  // test's) expired the oldest; the expire runs beside the info that reads the new backup.
  const list = JSON.parse(await ballast(['backup', 'list', '--dir', cluster.dir, '--json'])) as { backups: { id: string; type: string }[] };
  assert.equal(list.backups.filter((b) => b.type === 'full').length, 2, JSON.stringify(list.backups.map((b) => b.id)));
});

test('repository unreachable: status and events say so within 5 s, writes go on; reachable again: archiving catches up with no gap', async () => {
  const d = await cluster.waitHealthy();
  const primary = d.members.find((m) => m.role === 'primary')!.name;
  const repo = join(cluster.dir, 'backup', 'repo');
  const writer = new Writer(cluster.writerTarget(), { pauseMs: 5, firstId: 500_000 });
  await writer.start();
  await writer.waitForAcks(20);
  chmodSync(repo, 0o000);
  const cutAt = Date.now();
  try {
    const seen = await cluster.waitFor('the archive reported failing', (x) => x.archive?.failing === true, 15_000);
    const took = Date.now() - cutAt;
    assert.ok(took <= 5000 + 500, `status said failing after ${took} ms`);
    assert.ok(seen.members.find((m) => m.name === primary)?.role === 'primary');
    const events = await cluster.events();
    assert.ok(events.some((e) => /code archive-repo-unreachable/.test(e)), 'an event says the repository is unreachable');
    // Writes go on while the repository is away; make the primary complete a segment meanwhile.
    await cluster.superQuery(primary, 'SELECT pg_switch_wal()');
    await writer.waitForAcks(50);
  } finally {
    chmodSync(repo, 0o700);
  }
  await cluster.waitFor('archiving caught up', (x) => {
    const a = x.archive;
    return a !== null && !a.failing && (a.lagBytes ?? Infinity) < 16 * 1024 * 1024;
  }, 90_000);
  const events = await cluster.events();
  assert.ok(events.some((e) => /code archive-repo-reachable/.test(e)), 'an event says the repository is back');
  await writer.waitForAcks(20);
  await writer.stop();
  const r = await restore('latest-after-repo-outage', ['--latest']);
  try {
    const present = new Set(await idsOn(r, 'ballast_acked_writes'));
    const missing = writer.result.acked.filter((a) => !present.has(a.id)).map((a) => a.id);
    assert.deepEqual(missing, [], `acknowledged writes missing after the outage: ${missing.length} of ${writer.result.acked.length}`);
  } finally {
    await r.stop();
  }
});

test('the archive has no gap across a host crash of the primary, its rejoin with pg_rewind and a switchover: restore --latest holds every acknowledged write; verify passes', async () => {
  const d = await cluster.waitHealthy();
  const oldPrimary = d.members.find((m) => m.role === 'primary')!.name;
  const writer = new Writer(cluster.writerTarget(), { pauseMs: 5, firstId: 1_000_000 });
  await writer.start();
  try {
    await writer.waitForAcks(100);
    cluster.killHost(oldPrimary);
    await cluster.waitFor('a new primary', (x) => x.members.some((m) => m.role === 'primary' && m.name !== oldPrimary), 30_000);
    await writer.waitForAcks(100);
    const back = await cluster.waitFor(`${oldPrimary} back as a standby`, (x) => ['sync', 'async'].includes(x.members.find((m) => m.name === oldPrimary)?.role ?? ''), 90_000);
    assert.equal(back.members.find((m) => m.name === oldPrimary)?.rejoin?.method, 'rewind', 'the old primary rejoined with pg_rewind');
    await writer.waitForAcks(50);
    await cluster.switchover();
    await cluster.waitHealthy();
    await writer.waitForAcks(50);
  } finally {
    await writer.stop();
  }
  const result = writer.result;
  const r = await restore('latest-after-failover', ['--latest']);
  try {
    const present = new Set(await idsOn(r, 'ballast_acked_writes'));
    const missing = result.acked.filter((a) => !present.has(a.id)).map((a) => a.id);
    assert.deepEqual(missing, [], `acknowledged writes missing from the restore: ${missing.length} of ${result.acked.length}`);
  } finally {
    await r.stop();
  }
  // pgbackrest verify and a restore test of the newest backup find the archive whole.
  const v = JSON.parse(await ballast(['backup', 'verify', '--dir', cluster.dir, '--json'], {}, 300_000)) as { ok: boolean };
  assert.equal(v.ok, true, JSON.stringify(v));
  const events = await cluster.events();
  assert.ok(!events.some((e) => /code archive-failing/.test(e)) || events.some((e) => /code archive-recovered/.test(e)), 'archiving did not stay broken');
});
