// Failover benchmark (a program, not a test): N trials on one local cluster of
//   start a writer -> kill -9 the primary's whole "host" (agent + postgres) -> measure
//   - write outage: longest gap between acknowledged writes after the kill,
//   - lost acknowledged writes (read back from the new primary),
//   - rejoin: kill -> the old member streams again as a standby (includes the supervisor's
//     restart delay, printed separately),
//   - a breakdown from the events: detection (kill -> coordinator's 'failover:' decision),
//     promotion (decision -> agent's 'promoted' event), first write after promotion.
// --via rw: the writer goes through the read-write endpoint (PgBouncer -> HAProxy) and reconnects
// to it after every error, so the outage is the one a client of the endpoint sees; default direct.
// Usage: node dist/bench/failover.js [--trials N] [--via direct|rw] [--json] [--keep]
import { performance } from 'node:perf_hooks';
import { TestCluster } from '../src/testkit/cluster.js';
import { longestGap, Writer } from '../src/testkit/writer.js';
import { fmtSummary, note, parseBenchArgs, summarize, writerTargetVia, type Via } from './bench-common.js';

const RESTART_DELAY_MS = 3000;
const USAGE = 'usage: node dist/bench/failover.js [--trials N] [--via direct|rw] [--json] [--keep]';

interface Trial {
  trial: number;
  killed: string;
  promoted: string;
  outageMs: number;
  lost: number;
  acked: number;
  failedAttempts: number;
  detectMs: number | null;
  promoteMs: number | null;
  firstWriteAfterPromoteMs: number | null;
  newPrimarySeenMs: number;
  agentBackMs: number | null;
  rejoinMs: number;
  rejoinMethod: string;
  noFailover: string | null;
}

async function runTrial(cluster: TestCluster, trial: number, via: Via, out: (l: string) => void): Promise<Trial> {
  const before = await cluster.waitHealthy();
  const old = before.members.find((m) => m.role === 'primary')!;
  const writer = new Writer(writerTargetVia(cluster, via), { firstId: trial * 10_000_000 + 1 });
  await writer.start();
  await writer.waitForAcks(50);

  const killedAt = performance.now();
  const killedWall = performance.timeOrigin + killedAt;
  cluster.killHost(old.name);

  let newPrimarySeen: number | null = null;
  let agentBack: number | null = null;
  let rejoined: number | null = null;
  let promoted = '';
  let rejoinMethod = '?';
  const deadline = killedAt + 120_000;
  let noFailover: string | null = null;
  while (rejoined === null) {
    if (performance.now() > deadline) throw new Error(`trial ${trial}: ${old.name} did not rejoin within 120 s`);
    const d = await cluster.describe().catch(() => null);
    const now = performance.now();
    if (d && newPrimarySeen === null && now - killedAt > 3000 && d.members.find((m) => m.name === old.name)?.role === 'primary') {
      // The killed primary came back (its agent restarted it) before any failover: report why.
      noFailover = d.view?.reason ?? '?';
      const ev = (await cluster.eventRecords(200)).filter((e) => e.at >= killedWall - 50).find((e) => /NOT failing over|failed/.test(e.message));
      out(`trial ${trial}: NO FAILOVER: ${old.name} came back as primary; ${ev?.message ?? noFailover}`);
      newPrimarySeen = now;
      promoted = old.name;
      rejoined = now;
      rejoinMethod = 'restarted in place (no failover)';
      break;
    }
    if (d) {
      const p = d.members.find((m) => m.role === 'primary' && m.name !== old.name);
      if (p && newPrimarySeen === null) {
        newPrimarySeen = now;
        promoted = p.name;
      }
      const o = d.members.find((m) => m.name === old.name);
      if (o && agentBack === null && o.agentPid !== null && o.agentPid !== old.agentPid) agentBack = now;
      if (newPrimarySeen !== null && o && (o.role === 'sync' || o.role === 'async')) {
        rejoined = now;
        rejoinMethod = `${o.rejoin?.method ?? '-'} ${o.rejoin?.result ?? ''}`.trim();
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await writer.waitForAcks(20);
  const result = await writer.stop();
  const last = result.acked[result.acked.length - 1]!.at;
  const outageMs = longestGap(result.acked, killedAt, last);
  const lost = (await cluster.missingOn(promoted, result.acked)).length;

  const events = (await cluster.eventRecords(200)).filter((e) => e.at >= killedWall - 50);
  const decision = events.find((e) => e.source.startsWith('coordinator') && /^failover: /.test(e.message));
  const promotedEv = events.find((e) => e.source === `agent:${promoted}` && /promoted to primary/.test(e.message));
  // The write that ended the outage: the first acknowledgement after the longest gap.
  const resumed = result.acked.find((a, i) => a.at > killedAt && i > 0 && Math.abs(a.at - result.acked[i - 1]!.at - outageMs) < 0.5)
    ?? result.acked.find((a) => a.at > killedAt + outageMs - 1);
  const firstAckWall = resumed ? performance.timeOrigin + resumed.at : null;
  const t: Trial = {
    trial,
    killed: old.name,
    promoted,
    outageMs: Math.round(outageMs),
    lost,
    acked: result.acked.length,
    failedAttempts: result.failures.length,
    detectMs: decision ? Math.round(decision.at - killedWall) : null,
    promoteMs: decision && promotedEv ? Math.round(promotedEv.at - decision.at) : null,
    firstWriteAfterPromoteMs: promotedEv && firstAckWall ? Math.round(firstAckWall - promotedEv.at) : null,
    newPrimarySeenMs: Math.round(newPrimarySeen! - killedAt),
    agentBackMs: agentBack === null ? null : Math.round(agentBack - killedAt),
    rejoinMs: Math.round(rejoined - killedAt),
    rejoinMethod,
    noFailover,
  };
  out(`trial ${trial}: kill ${t.killed} -> ${t.promoted}: outage ${t.outageMs} ms (detect ${t.detectMs ?? '?'} + promote ${t.promoteMs ?? '?'} + first write ${t.firstWriteAfterPromoteMs ?? '?'}), ` +
    `lost ${t.lost} of ${t.acked}, failed attempts ${t.failedAttempts}; rejoin ${t.rejoinMs} ms (agent back ${t.agentBackMs ?? '?'} ms, restart delay ${RESTART_DELAY_MS} ms; ${t.rejoinMethod})`);
  return t;
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2), 5, USAGE);
  const out = args.json ? note : (l: string) => process.stdout.write(`${l}\n`);
  note(`starting a 3-member cluster (supervisor restart delay ${RESTART_DELAY_MS} ms; writer via ${args.via})...`);
  const cluster = await TestCluster.start({ members: 3, restartDelayMs: RESTART_DELAY_MS });
  note(`cluster in ${cluster.dir}`);
  const trials: Trial[] = [];
  let error: string | null = null;
  try {
    for (let i = 1; i <= args.trials; i++) trials.push(await runTrial(cluster, i, args.via, out));
  } catch (e) {
    error = (e as Error).message;
    note(`benchmark stopped: ${error}\n${cluster.logTail('supervisor', 20)}`);
  } finally {
    if (args.keep) note(`--keep: cluster left running in ${cluster.dir} (stop it with: node bin/ballast.js down --dir ${cluster.dir})`);
    else await cluster.stop();
  }
  const outage = summarize(trials.map((t) => t.outageMs));
  const rejoin = summarize(trials.map((t) => t.rejoinMs));
  const rejoinAfterRestart = summarize(trials.map((t) => t.rejoinMs - RESTART_DELAY_MS));
  const detect = summarize(trials.flatMap((t) => (t.detectMs === null ? [] : [t.detectMs])));
  const promote = summarize(trials.flatMap((t) => (t.promoteMs === null ? [] : [t.promoteMs])));
  const firstWrite = summarize(trials.flatMap((t) => (t.firstWriteAfterPromoteMs === null ? [] : [t.firstWriteAfterPromoteMs])));
  const lost = trials.reduce((s, t) => s + t.lost, 0);
  const noFailover = trials.filter((t) => t.noFailover !== null).length;
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ via: args.via, trials, summary: { outage, rejoin, rejoinAfterRestart, restartDelayMs: RESTART_DELAY_MS, detect, promote, firstWrite, lost, noFailover }, error }, null, 2)}\n`);
  } else {
    out(`\n${trials.length} failover trials, writer via ${args.via}${error ? ` (stopped early: ${error})` : ''}`);
    out(fmtSummary('write outage', outage));
    out(`  detect ${detect.median}/${detect.max}, promote ${promote.median}/${promote.max}, first write after promotion ${firstWrite.median}/${firstWrite.max} (median/max ms)`);
    out(fmtSummary('rejoin (kill -> streaming standby)', rejoin));
    out(fmtSummary(`rejoin minus the ${RESTART_DELAY_MS} ms supervisor restart delay`, rejoinAfterRestart));
    out(`lost acknowledged writes: ${lost}; trials without a failover (old primary restarted in place): ${noFailover}`);
  }
  if (error !== null || lost > 0 || noFailover > 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  note(`bench failed: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
});
