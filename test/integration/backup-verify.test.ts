// `ballast backup verify` on a real two-member cluster (pgBackRest 2.45, PostgreSQL 15): a user
// table with an index, a WAL switch archived, then verify: pgbackrest verify ok, the newest
// backup restored into a scratch instance and recovered past that switch, pg_amcheck clean; the
// result is in last-verify.json (0600), the events and backup list; no scratch directory or
// postgres is left behind. Everything started is stopped through `ballast down` in after().
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { secretsSchema, SUPERUSER } from '../../src/domain/config.js';
import type { ClusterEvent } from '../../src/domain/types.js';
import { compareLsn } from '../../src/domain/lsn.js';
import type { VerifyRecord } from '../../src/backup/verify.js';
import { ballast, type UpInfo } from '../../src/testkit/cluster.js';
import { makeTempDir, removeTempDir } from '../../src/testkit/tmp.js';

let dir = '';
let info: UpInfo;

before(async () => {
  dir = await makeTempDir('ballast-verify-');
  info = JSON.parse(await ballast(['up', '--dir', dir, '--members', '2', '--detach', '--json'])) as UpInfo;
});

after(async () => {
  if (dir) await ballast(['down', '--dir', dir]).catch(() => undefined);
  if (dir && !process.env.KEEP_TMP) await removeTempDir(dir);
});

async function superuser(port: number): Promise<pg.Client> {
  const secrets = secretsSchema.parse(JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8')));
  const c = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, password: secrets.superuserPassword, database: 'app', connectionTimeoutMillis: 3000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function primaryClient(): Promise<pg.Client> {
  for (const m of info.members) {
    const c = await superuser(m.port);
    if ((await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r === false) return c;
    await c.end();
  }
  throw new Error('no primary');
}

/** Postmasters whose data directory is a verify scratch directory of this deployment. */
function scratchPostgres(): number[] {
  const marker = join(dir, 'backup', 'verify-');
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').some((a) => a.startsWith(marker));
    } catch {
      return false;
    }
  }).map(Number);
}

test('backup verify restores the newest backup to the end of the archive and finds it consistent', { timeout: 120_000 }, async () => {
  // Data worth checking (a heap and a B-tree), then a WAL switch the restore must replay past.
  const c = await primaryClient();
  let written: string;
  try {
    await c.query('CREATE TABLE verify_t (id int PRIMARY KEY, v text NOT NULL)');
    await c.query("INSERT INTO verify_t SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
    await c.query('CREATE INDEX verify_t_v ON verify_t (v)');
    written = (await c.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
    const seg = (await c.query<{ s: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS s')).rows[0]!.s;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const a = (await c.query<{ w: string | null }>('SELECT last_archived_wal AS w FROM pg_stat_archiver')).rows[0]?.w ?? null;
      if (a !== null && /^[0-9A-F]{24}/.test(a) && a.slice(0, 24) >= seg) break;
      if (Date.now() > deadline) throw new Error(`segment ${seg} was not archived within 30 s (last ${a})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await c.end();
  }

  const t0 = Date.now();
  const record = JSON.parse(await ballast(['backup', 'verify', '--dir', dir, '--json'], {}, 100_000)) as VerifyRecord;
  const seconds = (Date.now() - t0) / 1000;
  assert.equal(record.ok, true, JSON.stringify(record, null, 2));
  assert.equal(record.pgbackrestVerify.ok, true);
  assert.equal(record.restore.ok, true);
  assert.ok(record.restore.recoveredToLsn !== null && compareLsn(record.restore.recoveredToLsn, written) >= 0,
    `recovered to ${record.restore.recoveredToLsn}, but the table was written up to ${written}`);
  assert.ok((record.restore.timeline ?? 0) >= 2, 'the restored instance promoted onto a new timeline');
  assert.equal(record.amcheck.method, 'pg_amcheck');
  assert.equal(record.amcheck.ok, true);
  process.stderr.write(`backup verify on a fresh 2-member cluster: ${seconds.toFixed(1)} s (restore ${record.restore.seconds.toFixed(1)} s)\n`);

  // Recorded: the file (0600), the listing, the events.
  const file = join(dir, 'backup', 'last-verify.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), record);
  const listing = JSON.parse(await ballast(['backup', 'list', '--dir', dir, '--json'])) as { newest: string; lastVerify: { ok: boolean; verifiedAt: string; backup: string } };
  assert.equal(listing.lastVerify.ok, true);
  assert.equal(listing.lastVerify.verifiedAt, record.verifiedAt);
  assert.equal(listing.lastVerify.backup, listing.newest);
  assert.match(await ballast(['backup', 'list', '--dir', dir]), /^last verify: .* ok in /m);
  const events = JSON.parse(await ballast(['events', '--dir', dir, '--json'])) as ClusterEvent[];
  const ev = events.find((e) => /\(code backup-verify-ok\)$/.test(e.message));
  assert.ok(ev, `no backup-verify-ok event in ${JSON.stringify(events.slice(-5))}`);
  assert.equal(ev.level, 'info');
  assert.equal(ev.source, 'backup');

  // Nothing left behind.
  assert.deepEqual(readdirSync(join(dir, 'backup')).filter((d) => d.startsWith('verify-')), []);
  assert.deepEqual(scratchPostgres(), []);
});
