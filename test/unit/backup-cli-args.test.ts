// Bad input to the backup commands (backup run/list, restore, undrop): exit code 2, a clear
// message, and nothing created on disk. Cases that need a running cluster are in
// test/e2e/backup.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/program.js';
import type { Io } from '../../src/cli/io.js';
import { parseUndropFlags } from '../../src/cli/undrop-command.js';
import { parseRestoreFlags } from '../../src/cli/backup-commands.js';
import { chooseRestoredName, findDropCommit, parseTableName, parseWaldumpCommits, restoredName, waldumpTimeToIso } from '../../src/backup/undrop-plan.js';
import { InvalidInputError } from '../../src/domain/errors.js';

function capture(): Io & { stdout: string; stderr: string } {
  const c = { stdout: '', stderr: '', out: (t: string) => void (c.stdout += t), err: (t: string) => void (c.stderr += t) };
  return c;
}

const base = mkdtempSync(join(tmpdir(), 'ballast-backup-args-'));
const src = join(base, 'src');
const into = join(base, 'into');
test.after(() => rmSync(base, { recursive: true, force: true }));

const R = ['restore', '--from', src, '--into', into];
const bad: Array<{ argv: string[]; message: RegExp }> = [
  { argv: ['restore', '--into', into, '--latest'], message: /--from DIR .* is required/ },
  { argv: ['restore', '--from', src, '--latest'], message: /--into DIR .* is required/ },
  { argv: ['restore', '--from', 'rel/dir', '--into', into, '--latest'], message: /--from must be an absolute path/ },
  { argv: ['restore', '--from', src, '--into', 'rel', '--latest'], message: /--into must be an absolute path/ },
  { argv: [...R], message: /a restore target is required/ },
  { argv: [...R, '--latest', '--xid', '5'], message: /give exactly one of/ },
  { argv: [...R, '--time', '2026-12-07 19:50:00Z'], message: /space instead of T/ },
  { argv: [...R, '--time', '2026-12-07T19:50:00'], message: /zone|ISO 8601/ },
  { argv: [...R, '--time', '2026-12-07'], message: /ISO 8601/ },
  { argv: [...R, '--time', 'yesterday'], message: /ISO 8601/ },
  { argv: [...R, '--time', '2026-13-07T19:50:00Z'], message: /month|not a real|ISO 8601|invalid/i },
  { argv: [...R, '--time', '2026-02-30T19:50:00Z'], message: /day|not a real|invalid/i },
  { argv: [...R, '--time', '2026-12-07T25:50:00Z'], message: /hour|not a real|invalid/i },
  { argv: [...R, '--lsn', '12345'], message: /--lsn/ },
  { argv: [...R, '--lsn', '0/XYZ'], message: /--lsn/ },
  { argv: [...R, '--xid', '0'], message: /--xid/ },
  { argv: [...R, '--xid', '-4'], message: /--xid/ },
  { argv: [...R, '--xid', 'abc'], message: /--xid/ },
  { argv: [...R, '--latest', '--members', '0'], message: /--members must be from 1 to 9/ },
  { argv: [...R, '--latest', '--cluster', 'Bad-Name'], message: /not a valid name/ },
  { argv: ['backup', 'run', '--dir', src, '--type', 'weekly'], message: /--type must be full, diff or incr/ },
  { argv: ['backup', 'run', '--etcd', 'http://127.0.0.1:2379'], message: /need --dir DIR/ },
  { argv: ['backup', 'run'], message: /--dir DIR .* or --etcd URL/ },
  { argv: ['backup', 'list', '--dir', 'relative'], message: /absolute/ },
  { argv: ['backup', 'nonsense'], message: /unknown command/ },
  { argv: ['undrop', '--dir', src], message: /--table SCHEMA.NAME is required/ },
  { argv: ['undrop', '--dir', src, '--table', 'a.b.c'], message: /is not SCHEMA.NAME or NAME/ },
  { argv: ['undrop', '--dir', src, '--table', 'public."x; drop table y"'], message: /is not SCHEMA.NAME or NAME/ },
  { argv: ['undrop', '--dir', src, '--table', '1abc'], message: /is not SCHEMA.NAME or NAME/ },
  { argv: ['undrop', '--dir', src, '--table', 't', '--before', 'now'], message: /--before/ },
  { argv: ['undrop', '--dir', src, '--table', 't', '--before', '2026-12-07T19:50:00Z', '--before-xid', '7'], message: /not both/ },
  { argv: ['undrop', '--dir', src, '--table', 't', '--before-xid', '7x'], message: /--before-xid must be a transaction id/ },
  { argv: ['undrop', '--dir', src, '--table', 't', '--as', 'bad name'], message: /--as .* is not a plain identifier/ },
  { argv: ['undrop', '--dir', src, '--table', 't', '--db', 'x;y'], message: /--db .* is not a plain identifier/ },
  { argv: ['undrop', '--dir', src, '--table', 't', '--before', '2099-01-01T00:00:00Z'], message: /in the future/ },
];

for (const c of bad) {
  test(`refused: ballast ${c.argv.join(' ')}`, async () => {
    const io = capture();
    const code = await runCli(c.argv, io);
    assert.equal(code, 2, `exit code 2 (stderr: ${io.stderr})`);
    assert.match(io.stderr, c.message);
    assert.equal(existsSync(into), false, 'nothing created');
    assert.equal(existsSync(src), false, 'nothing created');
  });
}

test('parsed flags: restore and undrop', () => {
  const r = parseRestoreFlags({ from: '/a/b/', into: '/c', time: '2026-12-07T21:50:00+02:00', members: '2' });
  assert.deepEqual({ from: r.from, into: r.into, members: r.members, kind: r.target.kind }, { from: '/a/b', into: '/c', members: 2, kind: 'time' });
  assert.equal(r.target.kind === 'time' ? r.target.ms : 0, Date.parse('2026-12-07T19:50:00Z'));
  const u = parseUndropFlags({ table: 'sales.orders', beforeXid: '1234' });
  assert.deepEqual(u, { table: { schema: 'sales', name: 'orders' }, database: 'app', before: { kind: 'xid', xid: '1234' }, as: null });
  assert.deepEqual(parseTableName('--table', 'orders'), { schema: 'public', name: 'orders' });
});

const WALDUMP = `rmgr: Transaction len (rec/tot):    34/    34, tx:        744, lsn: 0/0E032648, prev 0/0E032588, desc: COMMIT 2026-12-07 20:55:40.817748 UTC; inval msgs: catcache 80 relcache 16397
rmgr: Transaction len (rec/tot):   1413/  1413, tx:        745, lsn: 0/0E033690, prev 0/0E033658, desc: COMMIT 2026-12-07 20:55:40.893514 UTC; rels: base/16386/16397 base/16386/16400 base/16386/16404; dropped stats: 2/16386/16404; inval msgs: catcache 32
rmgr: Transaction len (rec/tot):     34/    34, tx:        746, lsn: 0/0E034000, prev 0/0E033690, desc: ABORT 2026-12-07 20:55:41.000000 UTC
rmgr: Transaction len (rec/tot):    100/   100, tx:        747, lsn: 0/0E035000, prev 0/0E034000, desc: COMMIT 2026-12-07 20:55:42 UTC; rels: base/16386/20000`;

test('pg_waldump commits: parsed, the dropping commit found by its relation files', () => {
  const commits = parseWaldumpCommits(WALDUMP);
  assert.deepEqual(commits.map((c) => c.xid), ['744', '745', '747'], 'aborts are not commits');
  assert.deepEqual(commits[1]!.rels, ['base/16386/16397', 'base/16386/16400', 'base/16386/16404']);
  assert.equal(findDropCommit(commits, ['base/16386/16404'])?.xid, '745');
  assert.equal(findDropCommit(commits, ['base/16386/20000', 'base/16386/16397'])?.xid, '745', 'the first one that drops any of them');
  assert.equal(findDropCommit(commits, ['base/1/2']), null);
  assert.equal(waldumpTimeToIso(commits[1]!.time), '2026-12-07T20:55:40.893Z');
  assert.equal(waldumpTimeToIso('2026-12-07 20:55:42 UTC'), '2026-12-07T20:55:42.000Z');
  assert.equal(waldumpTimeToIso('garbage'), null);
});

test('restored names: own when free, --as when free (never an existing one), else a stamped name within 63 bytes', () => {
  const now = Date.parse('2026-12-07T20:55:42Z');
  const t = { schema: 'public', name: 'orders' };
  const taken = (names: string[]) => (n: string) => names.includes(n);
  assert.equal(chooseRestoredName(t, null, taken([]), now), 'orders');
  assert.equal(chooseRestoredName(t, null, taken(['orders']), now), 'orders_restored_20261207205542');
  assert.equal(chooseRestoredName(t, 'orders_old', taken(['orders']), now), 'orders_old');
  assert.throws(() => chooseRestoredName(t, 'orders', taken(['orders']), now), InvalidInputError);
  assert.throws(() => chooseRestoredName(t, null, taken(['orders', 'orders_restored_20261207205542']), now), /give --as/);
  assert.equal(restoredName('x'.repeat(63), now).length, 63);
});
