// Shared helpers of the benchmark programs: flags, summaries, printing.
import { parseArgs } from 'node:util';
import type { TestCluster } from '../src/testkit/cluster.js';
import { parseConnectionUri } from '../src/testkit/pgbench.js';
import type { WriterTarget } from '../src/testkit/writer.js';

/** How the benchmark's writer reaches the primary. */
export type Via = 'direct' | 'rw';

export interface BenchArgs {
  trials: number;
  json: boolean;
  keep: boolean;
  via: Via;
}

/**
 * --trials N (default `def`), --json (one JSON document on stdout), --keep (leave the cluster dir),
 * --via direct|rw (default direct: the writer's connection path, see writerTargetVia).
 */
export function parseBenchArgs(argv: string[], def: number, usage: string): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: { trials: { type: 'string' }, json: { type: 'boolean' }, keep: { type: 'boolean' }, via: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const trials = values.trials === undefined ? def : Number(values.trials);
  if (!Number.isInteger(trials) || trials < 1 || trials > 1000) throw new Error(`--trials must be a whole number from 1 to 1000 (got ${values.trials})`);
  const via = values.via ?? 'direct';
  if (via !== 'direct' && via !== 'rw') throw new Error(`--via must be direct or rw (got ${values.via})`);
  return { trials, json: values.json === true, keep: values.keep === true, via };
}

/**
 * The writer's target. direct: every member, the writer keeps the one that accepts writes (what
 * libpq's target_session_attrs=read-write does). rw: the one read-write endpoint (PgBouncer ->
 * HAProxy -> primary); the writer reconnects to it after any error, so its gaps are the outage a
 * client of the endpoint sees.
 */
export function writerTargetVia(cluster: TestCluster, via: Via): WriterTarget {
  if (via === 'direct') return cluster.writerTarget();
  const c = parseConnectionUri(cluster.info.endpoints.rw);
  const host = c.env.PGHOST;
  const port = Number(c.env.PGPORT);
  const database = c.env.PGDATABASE;
  if (!host || host.includes(',') || !Number.isInteger(port) || !database || c.password === null) {
    throw new Error('endpoints.rw is not a single-host URI with a port, a database and a password');
  }
  return { hosts: [{ host, port }], user: c.user, password: c.password, database };
}

export interface Summary {
  n: number;
  median: number;
  max: number;
  min: number;
}

export function summarize(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return { n: 0, median: NaN, max: NaN, min: NaN };
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { n: s.length, median: Math.round(median), max: Math.round(s[s.length - 1]!), min: Math.round(s[0]!) };
}

export function fmtSummary(label: string, s: Summary, unit = 'ms'): string {
  return `${label}: median ${s.median} ${unit}, max ${s.max} ${unit}, min ${s.min} ${unit} (n=${s.n})`;
}

/** Progress on stderr (stdout is reserved for --json). */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}
