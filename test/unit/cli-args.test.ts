// Bad flags and names: exit code 2, a clear message, and nothing created on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDir, parseIntArg, parseName, parseReadPoolFlags, parseUpArgs } from '../../src/cli/args.js';
import { InvalidInputError } from '../../src/domain/errors.js';
import { runCli } from '../../src/cli/program.js';
import type { Io } from '../../src/cli/io.js';

function capture(): Io & { stdout: string; stderr: string } {
  const c = { stdout: '', stderr: '', out: (t: string) => void (c.stdout += t), err: (t: string) => void (c.stderr += t) };
  return c;
}

const base = mkdtempSync(join(tmpdir(), 'ballast-cli-args-'));
const dir = join(base, 'cluster');
test.after(() => rmSync(base, { recursive: true, force: true }));

const bad: Array<{ argv: string[]; message: RegExp }> = [
  { argv: ['up', '--dir', 'relative/dir'], message: /--dir must be an absolute path/ },
  { argv: ['up', '--dir', './x'], message: /--dir must be an absolute path/ },
  { argv: ['up'], message: /--dir is required/ },
  { argv: ['up', '--dir', dir, '--members', '0'], message: /--members must be from 1 to 9/ },
  { argv: ['up', '--dir', dir, '--members', '10'], message: /--members must be from 1 to 9/ },
  { argv: ['up', '--dir', dir, '--members', 'three'], message: /--members must be a whole number/ },
  { argv: ['up', '--dir', dir, '--members', '1.5'], message: /--members must be a whole number/ },
  { argv: ['up', '--dir', dir, '--members', '-1'], message: /--members/ },
  { argv: ['up', '--dir', dir, '--cluster', 'Main'], message: /--cluster "Main" is not a valid name/ },
  { argv: ['up', '--dir', dir, '--cluster', 'a-b'], message: /not a valid name/ },
  { argv: ['up', '--dir', dir, '--cluster', 'x'.repeat(32)], message: /not a valid name/ },
  { argv: ['up', '--dir', dir, '--bogus'], message: /unknown option '--bogus'/ },
  { argv: ['up', '--dir', dir, 'extra'], message: /too many arguments|unknown/ },
  { argv: ['nonsense'], message: /unknown command/ },
  { argv: ['down'], message: /--dir is required/ },
  { argv: ['down', '--dir', 'rel'], message: /absolute/ },
  { argv: ['status'], message: /--dir DIR .* or --etcd URL/ },
  { argv: ['status', '--dir', dir, '--etcd', 'http://127.0.0.1:1'], message: /either --dir or --etcd/ },
  { argv: ['status', '--etcd', 'not a url'], message: /is not a URL/ },
  { argv: ['status', '--etcd', 'ftp://h:1'], message: /http/ },
  { argv: ['status', '--etcd', 'http://127.0.0.1:1', '--cluster', 'BAD'], message: /not a valid name/ },
  { argv: ['events', '--dir', dir, '--limit', '0'], message: /--limit/ },
  { argv: ['failover', '--dir', dir], message: /failover needs --to/ },
  { argv: ['failover', '--dir', dir, '--to', 'PG1'], message: /--to "PG1" is not a valid name/ },
  { argv: ['switchover', '--dir', dir, '--to', '1pg'], message: /not a valid name/ },
  { argv: ['switchover', '--dir', dir, '--accept-data-loss'], message: /unknown option|failover only/ },
  { argv: ['agent'], message: /--config FILE is required/ },
  { argv: ['agent', '--config', join(base, 'missing.json')], message: /cannot read agent config/ },
  { argv: ['coordinator', '--config', join(base, 'missing.json')], message: /cannot read coordinator config/ },
];

for (const c of bad) {
  test(`bad usage: ballast ${c.argv.join(' ')}`, async () => {
    const io = capture();
    const code = await runCli(c.argv, io);
    assert.equal(code, 2);
    assert.match(io.stderr, /^ballast: /);
    assert.match(io.stderr, c.message);
    assert.equal(io.stdout, '');
    assert.equal(existsSync(dir), false, 'nothing may be created');
    assert.deepEqual(readdirSync(base), []);
  });
}

test('bad usage with --json: one error object on stdout', async () => {
  const io = capture();
  const code = await runCli(['up', '--dir', dir, '--members', '12', '--json'], io);
  assert.equal(code, 2);
  assert.deepEqual(JSON.parse(io.stdout), { error: { code: 'INVALID_INPUT', message: '--members must be from 1 to 9 (got 12)' } });
  const io2 = capture();
  assert.equal(await runCli(['status', '--nope', '--json'], io2), 2);
  assert.equal(JSON.parse(io2.stdout).error.code, 'INVALID_INPUT');
});

test('a directory without a deployment: NOT_FOUND, exit 1, nothing created', async () => {
  for (const cmd of ['status', 'down', 'events']) {
    const io = capture();
    assert.equal(await runCli([cmd, '--dir', dir, '--json'], io), 1);
    assert.equal(JSON.parse(io.stdout).error.code, 'NOT_FOUND');
  }
  assert.equal(existsSync(dir), false);
});

test('help exits 0', async () => {
  const io = capture();
  assert.equal(await runCli(['--help'], io), 0);
  assert.match(io.stdout, /Usage: ballast/);
});

test('the real executable exits 2 on bad flags', () => {
  const bin = fileURLToPath(new URL('../../../bin/ballast.js', import.meta.url));
  const r = spawnSync(process.execPath, [bin, 'up', '--dir', 'relative'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /ballast: --dir must be an absolute path/);
});

test('parsers', () => {
  assert.equal(parseDir('/tmp/x/'), '/tmp/x');
  assert.equal(parseDir('/tmp//a/../b'), '/tmp/b');
  assert.equal(parseDir('/'), '/');
  assert.equal(parseIntArg('--n', '007', 1, 9), 7);
  assert.equal(parseName('--to', 'pg_1'), 'pg_1');
  assert.deepEqual(parseUpArgs({ dir: '/d' }), { dir: '/d', members: undefined, cluster: undefined, detach: false, readPool: {} });
  assert.deepEqual(parseUpArgs({ dir: '/d', members: '5', cluster: 'prod', detach: true }), { dir: '/d', members: 5, cluster: 'prod', detach: true, readPool: {} });
});

test('read pool flags: limits, "none" and the fallback mode; bad values explained', () => {
  assert.deepEqual(parseReadPoolFlags({}), {});
  assert.deepEqual(parseReadPoolFlags({ maxLagMs: '1000', maxLagBytes: 'none', readFallback: 'refuse' }), { maxLagMs: 1000, maxLagBytes: null, readFallback: 'refuse' });
  const bad: [Parameters<typeof parseReadPoolFlags>[0], RegExp][] = [
    [{ maxLagMs: '-1' }, /--max-lag-ms must be a whole number from 0 to 86400000 or "none"/],
    [{ maxLagMs: '1e3' }, /--max-lag-ms must be a whole number/],
    [{ maxLagMs: '99999999999' }, /--max-lag-ms must be from 0 to 86400000/],
    [{ maxLagBytes: 'lots' }, /--max-lag-bytes must be a whole number/],
    [{ readFallback: 'standby' }, /--read-fallback must be "primary" .* or "refuse" \(got "standby"\)/],
  ];
  for (const [o, re] of bad) assert.throws(() => parseReadPoolFlags(o), (e: Error) => e instanceof InvalidInputError && re.test(e.message), JSON.stringify(o));
});
