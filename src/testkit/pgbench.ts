// pgbench (PostgreSQL 15) for benchmarks: run it against a libpq URI without putting the
// password in argv, and parse what it prints.
//
// - parsePgbench(text): the summary lines of pgbench 15 (stdout) plus the client-abort lines
//   (stderr) -> PgbenchResult. Pure; unit-tested against captured output.
// - runPgbench({ uri, args, timeoutMs }): the URI becomes PGHOST/PGPORT/PGUSER/PGDATABASE
//   (comma lists for multi-host URIs) and a temporary passfile (0600 in a 0700 directory,
//   PGPASSFILE, removed afterwards); `args` never carries connection settings. A non-zero exit
//   (2: some clients aborted) still resolves with the parsed result; stderr is part of `raw`.
//   The child's soft open-files limit is raised (bash `ulimit -S -n`, up to the hard limit):
//   pgbench 15 waits with ppoll(), so thousands of clients need only descriptors.
// - pgbenchInit(uri, scale): `pgbench -i -s scale -q`; throws on failure.
//
// Note: pgbench's `-d` is --debug, not the database: the database comes from PGDATABASE here.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PGBENCH_BIN = process.env.BALLAST_PGBENCH_BIN ?? '/usr/lib/postgresql/15/bin/pgbench';

export interface PgbenchResult {
  /** "number of clients"; 0 when pgbench printed no summary. */
  clients: number;
  /** Transactions actually processed (0 when absent). */
  processed: number;
  /** Failed transactions (serialization/deadlock failures; 0 when absent). */
  failed: number;
  /** Distinct clients that aborted (an error in a command, or a connection that failed). */
  aborted: number;
  /** Transactions per second as pgbench reports it; NaN when it printed none. */
  tps: number;
  /** Average latency in ms; NaN when absent. */
  latencyMs: number;
  /** "initial connection time" (or, with -C, "average connection time") in ms. */
  connectMs?: number;
  /** What pgbench printed (stdout, then stderr; a long stderr is cut to its end). */
  raw: string;
}

function num(text: string, re: RegExp): number | undefined {
  const m = re.exec(text);
  if (!m?.[1]) return undefined;
  const v = Number(m[1]);
  return Number.isFinite(v) ? v : undefined;
}

const ABORT_PATTERNS = [
  /client (\d+) (?:script \d+ )?aborted\b/g,
  /could not create connection for client (\d+)/g,
];

/** Parse pgbench 15 output (stdout, optionally followed by stderr). */
export function parsePgbench(stdout: string): PgbenchResult {
  const abortedClients = new Set<number>();
  for (const re of ABORT_PATTERNS) for (const m of stdout.matchAll(re)) abortedClients.add(Number(m[1]));
  let aborted = abortedClients.size;
  // "Run was aborted" without any client named (should not happen) still means at least one.
  if (aborted === 0 && /Run was aborted/.test(stdout)) aborted = 1;
  const connectMs = num(stdout, /^(?:initial|average) connection time = ([\d.]+) ms/m);
  return {
    clients: num(stdout, /^number of clients: (\d+)/m) ?? 0,
    processed: num(stdout, /^number of transactions actually processed: (\d+)/m) ?? 0,
    failed: num(stdout, /^number of failed transactions: (\d+)/m) ?? 0,
    aborted,
    tps: num(stdout, /^tps = ([\d.]+)/m) ?? NaN,
    latencyMs: num(stdout, /^latency average = ([\d.]+) ms/m) ?? NaN,
    ...(connectMs === undefined ? {} : { connectMs }),
    raw: stdout,
  };
}

// ---- connection --------------------------------------------------------------------------

export interface PgbenchConnection {
  /** PGHOST, PGPORT, PGUSER, PGDATABASE and the libpq settings from the URI's parameters. */
  env: Record<string, string>;
  user: string;
  password: string | null;
}

/** URI parameters passed on as libpq environment variables; any other is refused. */
const PARAM_ENV: Record<string, string> = {
  target_session_attrs: 'PGTARGETSESSIONATTRS',
  sslmode: 'PGSSLMODE',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  application_name: 'PGAPPNAME',
};

function decode(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new Error(`bad percent-encoding in the URI's ${what}`);
  }
}

/**
 * Split a libpq URI (postgres[ql]://user:password@host:port[,host:port...]/db?params) into
 * environment variables and the password. Error messages never include the URI.
 */
export function parseConnectionUri(uri: string): PgbenchConnection {
  const m = /^postgres(?:ql)?:\/\/(?:([^@/?#]*)@)?([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/.exec(uri);
  if (!m) throw new Error('not a postgresql:// URI');
  const [, auth, hostList = '', db, query] = m;
  let user = '';
  let password: string | null = null;
  if (auth !== undefined) {
    const i = auth.indexOf(':');
    user = decode(i < 0 ? auth : auth.slice(0, i), 'user');
    if (i >= 0) password = decode(auth.slice(i + 1), 'password');
  }
  const hosts: string[] = [];
  const ports: string[] = [];
  for (const spec of hostList.split(',')) {
    const hm = /^(\[[^\]]+\]|[^:]*)(?::(\d+))?$/.exec(spec);
    if (!hm) throw new Error('bad host list in the URI');
    const host = (hm[1] ?? '').replace(/^\[(.*)\]$/, '$1');
    hosts.push(decode(host, 'host'));
    ports.push(hm[2] ?? '');
  }
  const env: Record<string, string> = {};
  if (hosts.some((h) => h !== '')) env.PGHOST = hosts.join(',');
  if (ports.some((p) => p !== '')) env.PGPORT = ports.map((p) => p || '5432').join(',');
  if (user) env.PGUSER = user;
  if (db) env.PGDATABASE = decode(db, 'database');
  for (const kv of (query ?? '').split('&')) {
    if (kv === '') continue;
    const eq = kv.indexOf('=');
    const key = decode(eq < 0 ? kv : kv.slice(0, eq), 'parameters');
    const envName = PARAM_ENV[key];
    if (!envName) throw new Error(`URI parameter ${JSON.stringify(key)} is not supported by runPgbench`);
    env[envName] = decode(eq < 0 ? '' : kv.slice(eq + 1), 'parameters');
  }
  return { env, user, password };
}

/** One passfile line matching any host, port and database for `user` (':' and '\' escaped). */
export function passfileLine(user: string, password: string): string {
  const esc = (s: string) => s.replace(/[\\:]/g, (c) => `\\${c}`);
  if (/[\r\n]/.test(user) || /[\r\n]/.test(password)) throw new Error('user or password contains a line break');
  return `*:*:*:${esc(user)}:${esc(password)}\n`;
}

/** The environment of a pgbench child: ours minus every inherited PG* variable, plus `extra`. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  return { ...env, ...extra };
}

// ---- running -----------------------------------------------------------------------------

export interface RunPgbenchOptions {
  uri: string;
  /** pgbench arguments without any connection option (-h/-p/-U, database name). */
  args: string[];
  timeoutMs: number;
  /** Extra environment for the child (after the connection variables). */
  env?: Record<string, string>;
  /** Soft open-files limit to ask for (capped at the hard limit). Default 65536. */
  nofile?: number;
}

/** Keep at most this much of stderr in `raw` (the end); parsing sees all of it. */
const RAW_STDERR_MAX = 64 * 1024;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Raise the soft fd limit (as far as the hard one allows), then exec the binary with "$@". */
const ULIMIT_EXEC =
  'want=$1; shift; hard=$(ulimit -H -n); if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then want=$hard; fi; ' +
  'ulimit -S -n "$want" 2>/dev/null; exec "$@"';

async function execPgbench(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number, nofile: number): Promise<Exit> {
  const child = spawn('/bin/bash', ['-c', ULIMIT_EXEC, 'pgbench-ulimit', String(nofile), PGBENCH_BIN, ...args], {
    env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGTERM'); // our own child, by its pid (bash exec'd pgbench: same pid)
    setTimeout(() => child.kill('SIGKILL'), 2000).unref();
  }, timeoutMs);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, s) => resolve([c, s]));
    });
    const stdout = Buffer.concat(out).toString('utf8');
    const stderr = Buffer.concat(err).toString('utf8');
    if (timedOut) throw new Error(`pgbench ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`);
    return { code, signal, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Run `fn` with the connection environment (and a temporary passfile when there is a password). */
async function withConnection<T>(uri: string, fn: (env: Record<string, string>) => Promise<T>): Promise<T> {
  const conn = parseConnectionUri(uri);
  if (conn.password === null) return fn(conn.env);
  const dir = await mkdtemp(join(tmpdir(), 'ballast-pgbench-')); // mode 0700
  try {
    const passfile = join(dir, 'pgpass');
    await writeFile(passfile, passfileLine(conn.user, conn.password), { mode: 0o600, flag: 'wx' });
    return await fn({ ...conn.env, PGPASSFILE: passfile });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Run pgbench against `uri`; resolves with the parsed result also when pgbench exits non-zero. */
export async function runPgbench(opts: RunPgbenchOptions): Promise<PgbenchResult> {
  return withConnection(opts.uri, async (connEnv) => {
    const r = await execPgbench(opts.args, childEnv({ ...connEnv, ...opts.env }), opts.timeoutMs, opts.nofile ?? 65536);
    const parsed = parsePgbench(`${r.stdout}\n${r.stderr}`);
    const status = r.code === 0 ? '' : `\n[pgbench exited with ${r.signal ?? `code ${r.code}`}]\n`;
    const stderr = r.stderr.length > RAW_STDERR_MAX ? `[... ${r.stderr.length - RAW_STDERR_MAX} bytes cut]\n${r.stderr.slice(-RAW_STDERR_MAX)}` : r.stderr;
    return { ...parsed, raw: `${r.stdout}${stderr}${status}` };
  });
}

/** `pgbench -i -s scale -q` (creates the pgbench tables, dropping existing ones). */
export async function pgbenchInit(uri: string, scale: number, timeoutMs = 600_000): Promise<void> {
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`pgbench scale must be a positive whole number (got ${scale})`);
  await withConnection(uri, async (connEnv) => {
    const r = await execPgbench(['-i', '-s', String(scale), '-q'], childEnv(connEnv), timeoutMs, 1024);
    if (r.code !== 0) throw new Error(`pgbench -i -s ${scale} failed (${r.signal ?? `exit ${r.code}`}): ${r.stderr.slice(-2000)}`);
  });
}
