// Shared helpers of the benchmark programs: flags, summaries, printing.
import { parseArgs } from 'node:util';

export interface BenchArgs {
  trials: number;
  json: boolean;
  keep: boolean;
}

/** --trials N (default `def`), --json (one JSON document on stdout), --keep (leave the cluster dir). */
export function parseBenchArgs(argv: string[], def: number, usage: string): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: { trials: { type: 'string' }, json: { type: 'boolean' }, keep: { type: 'boolean' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const trials = values.trials === undefined ? def : Number(values.trials);
  if (!Number.isInteger(trials) || trials < 1 || trials > 1000) throw new Error(`--trials must be a whole number from 1 to 1000 (got ${values.trials})`);
  return { trials, json: values.json === true, keep: values.keep === true };
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
