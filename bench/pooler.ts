// Pooler benchmark (a program, not a test): pgbench select-only (-S) on ONE local cluster, through
//   - direct: the primary's own port (the baseline),
//   - rw / ro: the cluster's endpoints (PgBouncer, N processes sharing a port with so_reuseport,
//     -> HAProxy -> Postgres),
//   - rw-1proc: the same PgBouncer config as ONE process (bench/single-pooler.ts),
//   - haproxy-rw: HAProxy's rw listener without PgBouncer (a diagnostic: which hop costs what),
// at 16 clients, at 16 clients with -C (a new connection per transaction), and at 1,000 and
// 5,000 clients against the small per-process server pool. Prints a table and the ratios
// (rw/direct, multi/single) computed within the run; --json prints one JSON document.
//
// pgbench 15 counts its connection phase inside -T, so the 16-client phases ask for --duration
// seconds plus an allowance for connecting (estimated from the previous phases), and the big
// phases use -t (transactions per client) sized from the same target's 16-client tps, so the
// thousands of logins cannot eat the run; the table shows the window actually measured
// (processed / tps, excluding the initial connections). Direct runs with more clients than Postgres'
// max_connections are not attempted and print "n/a (max_connections=N)".
// Usage: node dist/bench/pooler.js [--duration S] [--big-clients 1000,5000] [--json] [--keep]
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { buildPoolerUri } from '../src/cli/uri.js';
import { APP_DATABASE, APP_USER } from '../src/domain/config.js';
import { readOnlyDatabase } from '../src/routing/routing-types.js';
import { TestCluster } from '../src/testkit/cluster.js';
import { pgbenchInit, runPgbench, type PgbenchResult } from '../src/testkit/pgbench.js';
import { note } from './bench-common.js';
import { clusterRoutingSpec, startSinglePooler, type SinglePooler } from './single-pooler.js';

const USAGE = 'usage: node dist/bench/pooler.js [--duration S] [--big-clients 1000,5000] [--json] [--keep]';
const SCALE = 10;
const SMALL_CLIENTS = 16;
const THREADS = 2;

interface PoolerArgs {
  durationS: number;
  bigClients: number[];
  json: boolean;
  keep: boolean;
}

function parsePoolerArgs(argv: string[]): PoolerArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' }, 'big-clients': { type: 'string' },
      json: { type: 'boolean' }, keep: { type: 'boolean' }, help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const durationS = values.duration === undefined ? 10 : Number(values.duration);
  if (!Number.isInteger(durationS) || durationS < 1 || durationS > 600) throw new Error(`--duration must be a whole number of seconds from 1 to 600 (got ${values.duration})`);
  const bigClients = (values['big-clients'] ?? '1000,5000').split(',').filter((s) => s !== '').map(Number);
  if (bigClients.some((n) => !Number.isInteger(n) || n < 2 || n > 20_000)) throw new Error(`--big-clients must be a comma list of whole numbers from 2 to 20000 (got ${values['big-clients']})`);
  return { durationS, bigClients, json: values.json === true, keep: values.keep === true };
}

type Target = 'direct' | 'haproxy-rw' | 'rw' | 'ro' | 'rw-1proc';

interface Phase {
  target: Target;
  clients: number;
  /** -C: a new connection per transaction. */
  reconnect: boolean;
  /** Set when the phase was not run (and why). */
  na: string | null;
  tps: number | null;
  latencyMs: number | null;
  connectMs: number | null;
  /** Seconds the figures cover (processed / tps). */
  windowS: number | null;
  processed: number;
  failed: number;
  aborted: number;
  /** How long pgbench was asked to run: "-T S" (duration plus the connection allowance) or "-t N". */
  pgbenchLength: string | null;
  /** The end of pgbench's output when a phase had aborted clients or no result. */
  trouble: string | null;
}

interface Ratio {
  name: string;
  value: number | null;
  goal: string | null;
  met: boolean | null;
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`;
  }
}

/** Connecting costs a few ms per client (SCRAM), far more on a loaded box: learn it as we go. */
class ConnectEstimate {
  private perClientMs = 10;
  /** Extra -T seconds so that connecting `clients` (spread over the threads) leaves the duration. */
  allowanceS(clients: number, reconnect: boolean): number {
    return reconnect ? 1 : Math.ceil((Math.ceil(clients / THREADS) * this.perClientMs * 1.5) / 1000) + 1;
  }
  learn(r: PgbenchResult, reconnect: boolean): void {
    if (reconnect || r.connectMs === undefined || r.clients === 0) return;
    this.perClientMs = Math.max(this.perClientMs, r.connectMs / Math.ceil(r.clients / THREADS));
  }
}

/**
 * How long pgbench runs: -T (seconds, connecting included, see the header) for the small
 * phases; -t (transactions per client) for the big ones, sized from the same target's tps at
 * 16 clients so the run lasts about the duration however long the thousands of logins take.
 */
type RunLength = { seconds: number } | { perClient: number };

async function runPhase(uri: string, target: Target, clients: number, reconnect: boolean, len: RunLength, est: ConnectEstimate): Promise<Phase> {
  const lengthArgs = 'seconds' in len ? ['-T', String(len.seconds)] : ['-t', String(len.perClient)];
  const args = ['-n', '-S', '-c', String(clients), '-j', String(Math.min(THREADS, clients)), ...lengthArgs, ...(reconnect ? ['-C'] : [])];
  note(`pgbench ${args.join(' ')} -> ${target}`);
  // Generous: thousands of SCRAM logins on a loaded 2-core box take minutes.
  const timeoutMs = ('seconds' in len ? len.seconds * 1000 : 600_000) + clients * 200 + 120_000;
  const r = await runPgbench({ uri, args, timeoutMs });
  est.learn(r, reconnect);
  const tps = finite(r.tps);
  const bad = r.aborted > 0 || tps === null || r.processed === 0;
  return {
    target, clients, reconnect, na: null,
    tps, latencyMs: finite(r.latencyMs), connectMs: r.connectMs ?? null,
    windowS: tps && tps > 0 ? r.processed / tps : null,
    processed: r.processed, failed: r.failed, aborted: r.aborted, pgbenchLength: lengthArgs.join(' '),
    trouble: bad ? r.raw.slice(-1500) : null,
  };
}

function naPhase(target: Target, clients: number, reconnect: boolean, why: string): Phase {
  return { target, clients, reconnect, na: why, tps: null, latencyMs: null, connectMs: null, windowS: null, processed: 0, failed: 0, aborted: 0, pgbenchLength: null, trouble: null };
}

function find(phases: Phase[], target: Target, clients: number, reconnect: boolean): Phase | undefined {
  return phases.find((p) => p.target === target && p.clients === clients && p.reconnect === reconnect);
}

function ratio(phases: Phase[], name: string, a: [Target, number, boolean], b: [Target, number, boolean], goal?: number): Ratio {
  const x = find(phases, ...a)?.tps ?? null;
  const y = find(phases, ...b)?.tps ?? null;
  const value = x !== null && y !== null && y > 0 ? x / y : null;
  return { name, value, goal: goal === undefined ? null : `>= ${goal}`, met: goal === undefined || value === null ? null : value >= goal };
}

/** Wait until a query through `uri` sees the initialised pgbench tables (the standbys replay them). */
async function waitReadable(cluster: TestCluster, uri: string): Promise<boolean> {
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      const rows = await cluster.queryUri<{ n: string; rec: boolean }>(uri, 'SELECT count(*) AS n, pg_is_in_recovery() AS rec FROM pgbench_branches');
      if (Number(rows[0]?.n) === SCALE) return rows[0]?.rec === true;
    } catch {
      /* not replayed yet */
    }
    if (Date.now() > end) throw new Error('pgbench tables not readable through the endpoint within 60 s');
    await new Promise((r) => setTimeout(r, 250));
  }
}

function fmt(x: number | null, digits: number): string {
  return x === null ? '-' : x.toFixed(digits);
}

function renderTable(phases: Phase[]): string[] {
  const head = ['target', 'clients', 'mode', 'length', 'tps', 'lat avg ms', 'conn ms', 'window s', 'failed', 'aborted'];
  const rows = phases.map((p) => [
    p.target, String(p.clients), p.reconnect ? '-C' : 'persistent', p.pgbenchLength ?? '-',
    p.na ? `n/a (${p.na})` : fmt(p.tps, 1), fmt(p.latencyMs, 2), fmt(p.connectMs, 1), fmt(p.windowS, 1),
    p.na ? '-' : String(p.failed), p.na ? '-' : String(p.aborted),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i < 4 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(head), ...rows.map(line)];
}

async function main(): Promise<void> {
  const args = parsePoolerArgs(process.argv.slice(2));
  const out = args.json ? note : (l: string) => process.stdout.write(`${l}\n`);
  const loadBefore = uptime();
  note(`load before: ${loadBefore}`);
  note('starting a 3-member cluster...');
  const cluster = await TestCluster.start({ members: 3 });
  note(`cluster in ${cluster.dir}`);
  const phases: Phase[] = [];
  let error: string | null = null;
  let single: SinglePooler | null = null;
  let info: Record<string, unknown> = {};
  try {
    const d = await cluster.waitHealthy();
    const primary = d.members.find((m) => m.role === 'primary')!.name;
    const spec = clusterRoutingSpec(cluster);
    const pids = await cluster.routingPids();
    const [pg] = await cluster.query<{ max: string; reserved: string }>(primary,
      "SELECT current_setting('max_connections') AS max, current_setting('superuser_reserved_connections') AS reserved");
    const maxConnections = Number(pg?.max);
    const biggest = Math.max(SMALL_CLIENTS, ...args.bigClients);
    single = await startSinglePooler(cluster, { maxClientConn: biggest + 100 });
    const uris: Record<Target, string> = {
      direct: cluster.memberUri(primary),
      rw: cluster.info.endpoints.rw,
      ro: cluster.info.endpoints.ro ?? cluster.info.endpoints.rw,
      'rw-1proc': single.uri(APP_DATABASE),
      'haproxy-rw': buildPoolerUri(APP_USER, cluster.secrets.appPassword, { host: '127.0.0.1', port: spec.rwPort }, APP_DATABASE),
    };
    info = {
      primary, directPort: cluster.port(primary), maxConnections, superuserReserved: Number(pg?.reserved),
      poolerProcesses: spec.poolerProcesses, livePoolerPids: pids.poolers.filter((p) => p !== null).length,
      defaultPoolSize: spec.defaultPoolSize, reservePoolSize: spec.reservePoolSize, maxClientConn: spec.maxClientConn,
      singlePoolerMaxClientConn: single.spec.maxClientConn, poolMode: spec.databases[0]?.poolMode,
    };
    note(`pgbench -i -s ${SCALE} through the direct URI...`);
    await pgbenchInit(cluster.info.endpoints.direct ?? uris.direct, SCALE);
    const roIsStandby = await waitReadable(cluster, uris.ro);
    await waitReadable(cluster, single.uri(readOnlyDatabase(APP_DATABASE)));
    info.roReachesStandby = roIsStandby;

    const est = new ConnectEstimate();
    const plan: [Target, number, boolean][] = [
      ['direct', SMALL_CLIENTS, false], ['haproxy-rw', SMALL_CLIENTS, false], ['rw', SMALL_CLIENTS, false], ['ro', SMALL_CLIENTS, false], ['rw-1proc', SMALL_CLIENTS, false],
      ['direct', SMALL_CLIENTS, true], ['haproxy-rw', SMALL_CLIENTS, true], ['rw', SMALL_CLIENTS, true], ['ro', SMALL_CLIENTS, true], ['rw-1proc', SMALL_CLIENTS, true],
      ...args.bigClients.flatMap((n): [Target, number, boolean][] => [['direct', n, false], ['rw', n, false], ['rw-1proc', n, false]]),
    ];
    for (const [target, clients, reconnect] of plan) {
      if (target === 'direct' && clients >= maxConnections) {
        phases.push(naPhase(target, clients, reconnect, `max_connections=${maxConnections}`));
        continue;
      }
      let len: RunLength = { seconds: args.durationS + est.allowanceS(clients, reconnect) };
      if (clients > SMALL_CLIENTS) {
        const ref = find(phases, target, SMALL_CLIENTS, false)?.tps ?? null;
        if (ref === null) {
          phases.push(naPhase(target, clients, reconnect, `no ${SMALL_CLIENTS}-client tps to size -t from`));
          continue;
        }
        len = { perClient: Math.max(1, Math.round((ref * args.durationS) / clients)) };
      }
      const p = await runPhase(uris[target], target, clients, reconnect, len, est);
      phases.push(p);
      note(`  ${p.tps === null ? 'no result' : `${p.tps.toFixed(1)} tps, ${fmt(p.latencyMs, 2)} ms`}${p.aborted ? `, ${p.aborted} clients aborted` : ''}`);
    }
  } catch (e) {
    error = (e as Error).message;
    note(`benchmark stopped: ${error}`);
  } finally {
    await single?.stop().catch((e: unknown) => note(`stopping the single pooler failed: ${String(e)}`));
    if (args.keep) note(`--keep: cluster left running in ${cluster.dir} (stop it with: node bin/ballast.js down --dir ${cluster.dir})`);
    else await cluster.stop();
  }
  const loadAfter = uptime();
  const ratios: Ratio[] = [
    ratio(phases, `select-only ${SMALL_CLIENTS} clients: rw / direct`, ['rw', SMALL_CLIENTS, false], ['direct', SMALL_CLIENTS, false], 0.75),
    ratio(phases, `select-only ${SMALL_CLIENTS} clients: ro / direct`, ['ro', SMALL_CLIENTS, false], ['direct', SMALL_CLIENTS, false]),
    ratio(phases, `-C ${SMALL_CLIENTS} clients: rw / direct`, ['rw', SMALL_CLIENTS, true], ['direct', SMALL_CLIENTS, true], 10),
    ratio(phases, `-C ${SMALL_CLIENTS} clients: ro / direct`, ['ro', SMALL_CLIENTS, true], ['direct', SMALL_CLIENTS, true]),
    ratio(phases, `select-only ${SMALL_CLIENTS} clients: haproxy-rw (no PgBouncer) / direct`, ['haproxy-rw', SMALL_CLIENTS, false], ['direct', SMALL_CLIENTS, false]),
    ratio(phases, `-C ${SMALL_CLIENTS} clients: haproxy-rw (no PgBouncer) / direct`, ['haproxy-rw', SMALL_CLIENTS, true], ['direct', SMALL_CLIENTS, true]),
    ratio(phases, `select-only ${SMALL_CLIENTS} clients: rw (multi-process) / rw-1proc`, ['rw', SMALL_CLIENTS, false], ['rw-1proc', SMALL_CLIENTS, false]),
    ratio(phases, `-C ${SMALL_CLIENTS} clients: rw (multi-process) / rw-1proc`, ['rw', SMALL_CLIENTS, true], ['rw-1proc', SMALL_CLIENTS, true]),
    ...args.bigClients.flatMap((n) => [
      ratio(phases, `select-only ${n} clients: rw / direct ${SMALL_CLIENTS} clients`, ['rw', n, false], ['direct', SMALL_CLIENTS, false]),
      ratio(phases, `select-only ${n} clients: rw (multi-process) / rw-1proc`, ['rw', n, false], ['rw-1proc', n, false]),
    ]),
  ];
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ durationS: args.durationS, scale: SCALE, threads: THREADS, load: { before: loadBefore, after: loadAfter }, cluster: info, phases, ratios, error }, null, 2)}\n`);
  } else {
    out(`pooler benchmark: pgbench -S (select only), scale ${SCALE}, ${args.durationS} s per phase, ${THREADS} pgbench threads${error ? `; STOPPED EARLY: ${error}` : ''}`);
    out(`cluster: ${JSON.stringify(info)}`);
    out(`load before: ${loadBefore}`);
    out('');
    for (const l of renderTable(phases)) out(l);
    out('');
    out('ratios (tps, computed in this run):');
    for (const r of ratios) out(`  ${r.name}: ${r.value === null ? 'n/a' : r.value.toFixed(2)}${r.goal ? ` (goal ${r.goal}: ${r.met === null ? 'unknown' : r.met ? 'met' : 'NOT met'})` : ''}`);
    for (const p of phases.filter((x) => x.trouble)) out(`\n${p.target} ${p.clients}${p.reconnect ? ' -C' : ''}: ${p.aborted} aborted clients / no result; pgbench said:\n${p.trouble}`);
    out(`load after: ${loadAfter}`);
  }
  if (error !== null || phases.some((p) => p.trouble !== null)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  note(`bench failed: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
});
