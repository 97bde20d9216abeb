// parsePgbench against pgbench 15.18 output captured on a local Ballast cluster (stdout, then
// stderr as runPgbench joins them), plus the URI split and the passfile of runPgbench.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConnectionUri, parsePgbench, passfileLine, type PgbenchResult } from '../../src/testkit/pgbench.js';

const HEADER = (script: string, scale: number, clients: number, secs: number) => `pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: ${script}
scaling factor: ${scale}
query mode: simple
number of clients: ${clients}
number of threads: 2
maximum number of tries: 1
duration: ${secs} s
`;

type Expect = Omit<PgbenchResult, 'raw'>;

const CASES: { name: string; text: string; want: Expect }[] = [
  {
    name: 'select-only, 16 clients (stderr: vacuum note)',
    text: `${HEADER('<builtin: select only>', 10, 16, 3)}number of transactions actually processed: 12440
number of failed transactions: 0 (0.000%)
latency average = 3.202 ms
initial connection time = 542.852 ms
tps = 4996.208665 (without initial connection time)
starting vacuum...end.
`,
    want: { clients: 16, processed: 12440, failed: 0, aborted: 0, tps: 4996.208665, latencyMs: 3.202, connectMs: 542.852 },
  },
  {
    name: '-C (new connection per transaction): average connection time, tps including reconnection',
    text: `${HEADER('<builtin: select only>', 10, 16, 3)}number of transactions actually processed: 237
number of failed transactions: 0 (0.000%)
latency average = 205.065 ms
average connection time = 24.831 ms
tps = 78.024203 (including reconnection times)
`,
    want: { clients: 16, processed: 237, failed: 0, aborted: 0, tps: 78.024203, latencyMs: 205.065, connectMs: 24.831 },
  },
  {
    name: 'clients aborted by an SQL error (exit 2)',
    text: `${HEADER('div.sql', 1, 4, 2)}number of transactions actually processed: 14
number of failed transactions: 0 (0.000%)
latency average = 6.103 ms
initial connection time = 142.005 ms
tps = 655.430712 (without initial connection time)
pgbench: error: client 1 script 0 aborted in command 0 query 0: ERROR:  division by zero
pgbench: error: client 2 script 0 aborted in command 0 query 0: ERROR:  division by zero
pgbench: error: client 3 script 0 aborted in command 0 query 0: ERROR:  division by zero
pgbench: error: client 0 script 0 aborted in command 0 query 0: ERROR:  division by zero
pgbench: error: Run was aborted; the above results are incomplete.
`,
    want: { clients: 4, processed: 14, failed: 0, aborted: 4, tps: 655.430712, latencyMs: 6.103, connectMs: 142.005 },
  },
  {
    name: 'failed transactions (serialization failures), latency including failures',
    text: `${HEADER('ser.sql', 1, 8, 2)}number of transactions actually processed: 533
number of failed transactions: 1354 (71.754%)
latency average = 7.394 ms (including failures)
initial connection time = 282.060 ms
tps = 305.606474 (without initial connection time)
`,
    want: { clients: 8, processed: 533, failed: 1354, aborted: 0, tps: 305.606474, latencyMs: 7.394, connectMs: 282.06 },
  },
  {
    name: 'initial connections refused (max_connections; exit 1, no summary)',
    text: `pgbench (15.18 (Debian 15.18-0+deb12u1))
pgbench: error: connection to server at "127.0.0.1", port 38571 failed: FATAL:  remaining connection slots are reserved for non-replication superuser connections
pgbench: error: could not create connection for client 99
`,
    want: { clients: 0, processed: 0, failed: 0, aborted: 1, tps: NaN, latencyMs: NaN },
  },
  {
    // Constructed (not captured): the same client named twice, and the older message shape.
    name: 'distinct clients: a client named twice counts once',
    text: `pgbench: error: client 3 aborted in command 4 (SQL) of script 0; perhaps the backend died
pgbench: error: client 3 aborted while establishing connection
pgbench: error: client 7 aborted in command 4 (SQL) of script 0
pgbench: error: Run was aborted; the above results are incomplete.
`,
    want: { clients: 0, processed: 0, failed: 0, aborted: 2, tps: NaN, latencyMs: NaN },
  },
];

for (const c of CASES) {
  test(`parsePgbench: ${c.name}`, () => {
    const { raw, ...got } = parsePgbench(c.text);
    assert.equal(raw, c.text);
    assert.deepEqual(got, c.want);
  });
}

test('parseConnectionUri: pooler URI with a percent-encoded password', () => {
  const c = parseConnectionUri('postgresql://app:p%40ss%3Aw%2Frd@127.0.0.1:34845/app_ro');
  assert.deepEqual(c, { env: { PGHOST: '127.0.0.1', PGPORT: '34845', PGUSER: 'app', PGDATABASE: 'app_ro' }, user: 'app', password: 'p@ss:w/rd' });
});

test('parseConnectionUri: multi-host URI becomes comma lists plus libpq parameters', () => {
  const c = parseConnectionUri('postgresql://app:x@127.0.0.1:5001,127.0.0.1:5002,[::1]:5003/app?target_session_attrs=read-write&connect_timeout=2');
  assert.deepEqual(c.env, {
    PGHOST: '127.0.0.1,127.0.0.1,::1', PGPORT: '5001,5002,5003', PGUSER: 'app', PGDATABASE: 'app',
    PGTARGETSESSIONATTRS: 'read-write', PGCONNECT_TIMEOUT: '2',
  });
});

test('parseConnectionUri: no password; refuses other schemes and unknown parameters without echoing the URI', () => {
  assert.equal(parseConnectionUri('postgres://app@h:1/db').password, null);
  assert.throws(() => parseConnectionUri('mysql://app:secret@h/db'), (e: Error) => !e.message.includes('secret'));
  assert.throws(() => parseConnectionUri('postgresql://app:secret@h/db?options=-c%20x'), (e: Error) => !e.message.includes('secret'));
});

test('passfileLine: any host/port/db, ":" and "\\" escaped', () => {
  assert.equal(passfileLine('app', 'a:b\\c'), '*:*:*:app:a\\:b\\\\c\n');
  assert.throws(() => passfileLine('app', 'a\nb'));
});

test('runPgbench: connection through env and a 0600 passfile, never argv; passfile removed; non-zero exit still parsed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pgbench-fake-'));
  try {
    const fake = join(dir, 'pgbench');
    // A stand-in for pgbench that reports what it was given, then exits 2 like an aborted run.
    await writeFile(fake, `#!/bin/bash
echo "argv: $*"
echo "env: $PGHOST $PGPORT $PGUSER $PGDATABASE pw=\${PGPASSWORD:-none}"
echo "passfile: $(stat -c %a "$PGPASSFILE") $(cat "$PGPASSFILE")"
echo "passfile-path: $PGPASSFILE"
echo "nofile: $(ulimit -S -n)"
echo "number of clients: 5"
echo "tps = 12.5 (without initial connection time)"
echo "pgbench: error: client 2 script 0 aborted in command 0 query 0: boom" >&2
exit 2
`);
    await chmod(fake, 0o755);
    process.env.BALLAST_PGBENCH_BIN = fake;
    process.env.PGPASSWORD = 'inherited-must-not-leak';
    const { runPgbench } = await import(`../../src/testkit/pgbench.js?fake=${Date.now()}`) as typeof import('../../src/testkit/pgbench.js');
    const r = await runPgbench({ uri: 'postgresql://app:s3cr%3At@127.0.0.1:6432/app', args: ['-S', '-c', '5', '-T', '1'], timeoutMs: 10_000, nofile: 4096 });
    assert.match(r.raw, /^argv: -S -c 5 -T 1$/m);
    assert.match(r.raw, /^env: 127\.0\.0\.1 6432 app app pw=none$/m);
    assert.match(r.raw, /^passfile: 600 \*:\*:\*:app:s3cr\\:t$/m);
    assert.match(r.raw, /\[pgbench exited with code 2\]/);
    const hard = Number((await import('node:child_process')).execFileSync('/bin/bash', ['-c', 'ulimit -H -n']).toString().trim());
    assert.equal(Number(/^nofile: (\d+)$/m.exec(r.raw)?.[1]), Math.min(4096, Number.isFinite(hard) ? hard : 4096));
    assert.equal(r.clients, 5);
    assert.equal(r.tps, 12.5);
    assert.equal(r.aborted, 1);
    const path = /^passfile-path: (.*)$/m.exec(r.raw)?.[1] ?? '';
    assert.ok(path.length > 0 && !existsSync(path), 'passfile removed afterwards');
  } finally {
    delete process.env.BALLAST_PGBENCH_BIN;
    delete process.env.PGPASSWORD;
    await rm(dir, { recursive: true, force: true });
  }
});
