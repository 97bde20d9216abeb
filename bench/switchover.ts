// Switchover benchmark (a program, not a test): N planned switchovers on one local cluster under
// a continuous writer, alternating "best standby" and a named target (the asynchronous standby).
// Prints per switchover the write pause (longest gap between acknowledged writes while it ran),
// the command's duration and the time until the cluster is healthy again; then median/max, the
// errors the writer saw, and lost acknowledged writes.
// --via rw: the writer goes through the read-write endpoint (PgBouncer, which the switchover
// PAUSEs) and reconnects to it after every error: the pause and errors a client of the endpoint
// sees. Default direct (the writer follows the primary itself).
// Usage: node dist/bench/switchover.js [--trials N] [--via direct|rw] [--json] [--keep]
import { performance } from 'node:perf_hooks';
import { TestCluster } from '../src/testkit/cluster.js';
import { longestGap, Writer } from '../src/testkit/writer.js';
import { fmtSummary, note, parseBenchArgs, summarize, writerTargetVia } from './bench-common.js';

const USAGE = 'usage: node dist/bench/switchover.js [--trials N] [--via direct|rw] [--json] [--keep]';

interface Trial {
  trial: number;
  from: string;
  to: string;
  named: boolean;
  pauseMs: number;
  commandMs: number;
  healthyMs: number;
  writerErrors: number;
  /** Distinct messages of those errors (server/driver messages; no connection strings). */
  writerErrorMessages: string[];
  outcome: string;
}

interface SwitchoverJson {
  result: string;
  primary: string;
  message: string;
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2), 10, USAGE);
  const out = args.json ? note : (l: string) => process.stdout.write(`${l}\n`);
  note(`starting a 3-member cluster (writer via ${args.via})...`);
  const cluster = await TestCluster.start({ members: 3, restartDelayMs: 3000 });
  note(`cluster in ${cluster.dir}`);
  const trials: Trial[] = [];
  let error: string | null = null;
  let writer: Writer | null = null;
  let lost = 0;
  try {
    await cluster.waitHealthy();
    writer = new Writer(writerTargetVia(cluster, args.via));
    await writer.start();
    await writer.waitForAcks(50);
    for (let i = 1; i <= args.trials; i++) {
      const d = await cluster.waitHealthy();
      const from = d.members.find((m) => m.role === 'primary')!.name;
      const named = i % 2 === 0 ? d.members.find((m) => m.role === 'async')?.name : undefined;
      const failuresBefore = writer.result.failures.length;
      const t0 = performance.now();
      let outcome = 'done';
      let to = '?';
      try {
        const r = (await cluster.switchover(named)) as SwitchoverJson;
        to = r.primary;
      } catch (e) {
        outcome = (e as Error).message.split('\n').filter((l) => l.startsWith('ballast:')).join(' ') || (e as Error).message.slice(0, 200);
      }
      const t1 = performance.now();
      await writer.waitForAcks(5, 30_000);
      await cluster.waitHealthy();
      const t2 = performance.now();
      const t: Trial = {
        trial: i, from, to, named: named !== undefined,
        pauseMs: Math.round(longestGap(writer.result.acked, t0, writer.lastAckAt() ?? t1)),
        commandMs: Math.round(t1 - t0), healthyMs: Math.round(t2 - t0),
        writerErrors: writer.result.failures.length - failuresBefore,
        writerErrorMessages: [...new Set(writer.result.failures.slice(failuresBefore).map((f) => f.error.slice(0, 200)))], outcome,
      };
      trials.push(t);
      out(`switchover ${i}: ${from} -> ${to}${t.named ? ' (named)' : ''}: ${outcome}; write pause ${t.pauseMs} ms, command ${t.commandMs} ms, healthy after ${t.healthyMs} ms, writer errors ${t.writerErrors}${t.writerErrors ? ` (${t.writerErrorMessages.join(' | ')})` : ''}`);
    }
    const result = await writer.stop();
    writer = null;
    const final = await cluster.waitHealthy();
    const primary = final.members.find((m) => m.role === 'primary')!.name;
    lost = (await cluster.missingOn(primary, result.acked)).length;
  } catch (e) {
    error = (e as Error).message;
    note(`benchmark stopped: ${error}`);
  } finally {
    await writer?.stop().catch(() => undefined);
    if (args.keep) note(`--keep: cluster left running in ${cluster.dir} (stop it with: node bin/ballast.js down --dir ${cluster.dir})`);
    else await cluster.stop();
  }
  const ok = trials.filter((t) => t.outcome === 'done');
  const pause = summarize(ok.map((t) => t.pauseMs));
  const command = summarize(ok.map((t) => t.commandMs));
  const healthy = summarize(ok.map((t) => t.healthyMs));
  const writerErrors = trials.reduce((s, t) => s + t.writerErrors, 0);
  const failed = trials.length - ok.length;
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ via: args.via, trials, summary: { pause, command, healthy, writerErrors, failedSwitchovers: failed, lost }, error }, null, 2)}\n`);
  } else {
    out(`\n${trials.length} switchovers, writer via ${args.via} (${failed} not done)${error ? `; stopped early: ${error}` : ''}`);
    out(fmtSummary('write pause', pause));
    out(fmtSummary('switchover command', command));
    out(fmtSummary('switchover -> healthy cluster', healthy));
    out(`errors seen by the writer: ${writerErrors}; lost acknowledged writes: ${lost}`);
  }
  if (error !== null || lost > 0 || failed > 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  note(`bench failed: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
});
