// `ballast chaos run|check|scenarios|cleanup` (and the internal `chaos worker`): the chaos harness
// from the command line. Progress on stderr; the report (JSON + HTML) in the run directory,
// the JSON also on stdout with --json. Exit 0 only when every invariant held.
import { InvalidInputError } from '../domain/errors.js';
import { resolveDir } from '../local/prepare.js';
import { parseDir, parseIntArg, parseName } from './args.js';
import { renderTable } from './describe.js';
import { EXIT_FAILED, EXIT_OK, printJson, type Io } from './io.js';

function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new InvalidInputError(`ballast chaos ${what} must run as root (network namespaces, nftables, mounts)`);
}

function stamp(line: string): string {
  return `${new Date().toISOString().slice(11, 23)} chaos: ${line}\n`;
}

export interface ChaosRunFlags {
  dir?: string;
  scenario?: string;
  random?: string;
  seed?: string;
  json?: boolean;
}

/** Pure flag checks (nothing changes on bad usage). */
export async function parseChaosRunFlags(o: ChaosRunFlags): Promise<{ dir: string; scenario: import('../chaos/scenarios.js').Scenario; seed: number }> {
  const { findScenario, SCENARIOS } = await import('../chaos/scenarios.js');
  const { scheduleFor } = await import('../chaos/harness.js');
  const dir = resolveDir(parseDir(o.dir));
  if ((o.scenario === undefined) === (o.random === undefined)) throw new InvalidInputError('give either --scenario NAME or --random N');
  const seed = o.seed === undefined ? 1 : parseIntArg('--seed', o.seed, 0, 2 ** 31 - 1);
  if (o.scenario !== undefined) {
    const s = findScenario(o.scenario);
    if (!s) throw new InvalidInputError(`unknown scenario ${JSON.stringify(o.scenario)}; one of: ${SCENARIOS.map((x) => x.name).join(', ')}`);
    return { dir, scenario: s, seed };
  }
  const count = parseIntArg('--random', o.random ?? '', 1, 100_000);
  return { dir, scenario: scheduleFor(null, { count, seed }), seed };
}

export async function chaosRunCommand(io: Io, o: ChaosRunFlags): Promise<number> {
  const a = await parseChaosRunFlags(o);
  requireRoot('run');
  const { runChaos } = await import('../chaos/harness.js');
  const { cleanupDir } = await import('../chaos/teardown.js');
  const log = (l: string) => io.err(stamp(l));
  // Ctrl-C / SIGTERM: tear down what the run made (from its state file), then leave.
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    log('interrupted: tearing down');
    void cleanupDir(a.dir, log).finally(() => process.exit(EXIT_FAILED));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    log(`scenario ${a.scenario.name}: ${a.scenario.description} (${a.scenario.steps.length} fault${a.scenario.steps.length === 1 ? '' : 's'}, seed ${a.seed})`);
    const report = await runChaos({ dir: a.dir, scenario: a.scenario, seed: a.seed, log });
    return printReport(io, report, o.json === true, log);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function printReport(io: Io, report: import('../chaos/harness.js').ChaosReport, json: boolean, log: (l: string) => void): number {
  const c = report.check;
  const b = report.backupCheck;
  if (b) log(`archive: ${b.error ? `restore failed: ${b.error.split('\n')[0]}` : `${b.required - b.missing.length} of ${b.required} acknowledged writes older than archive_timeout restored from the archive (${b.missing.length} missing), restore ${b.restoreSeconds.toFixed(1)} s`}`);
  log(`${report.ok ? 'PASSED' : 'FAILED'}: ${c ? `${c.acked} acknowledged, ${c.lost.length} lost, ${c.duplicated.length} duplicated, ${c.reordered.length} reordered keys, ${c.splitBrain.length} two-writer moments, availability ${(c.availability * 100).toFixed(1)} %` : 'no check'}`);
  for (const v of [...(c?.violations ?? []), ...report.problems]) log(`  ${v}`);
  for (const u of report.unexpectedExits) log(`  note: ${u.key} (pid ${u.pid}) exited on its own ${Math.round((u.at - report.startedAt) / 1000)} s into the run (restarted); see the report`);
  log(`report: ${report.files.html} and ${report.files.json}`);
  if (json) printJson(io, report);
  else {
    const rows = (c?.faults ?? []).map((f) => [String(f.seq), f.name, f.target.slice(0, 70), f.firstAckAfterMs === null ? 'none' : String(f.firstAckAfterMs), String(f.longestGapMs)]);
    const dist = (c?.outages ?? []).map((r) => [r.name, String(r.count), String(r.p50Ms), String(r.p90Ms), String(r.maxMs)]);
    io.out(`${renderTable(['#', 'FAULT', 'TARGET', 'FIRST_ACK_MS', 'LONGEST_GAP_MS'], rows)}\n\noutage per fault kind (longest gap between acknowledged writes after each fault):\n${renderTable(['FAULT', 'COUNT', 'P50_MS', 'P90_MS', 'MAX_MS'], dist)}\n${report.ok ? 'PASSED' : 'FAILED'}\n`);
  }
  return report.ok ? EXIT_OK : EXIT_FAILED;
}

/** `ballast chaos check --dir DIR`: check a finished run again from its recorded files. */
export async function chaosCheckCommand(io: Io, o: { dir?: string; json?: boolean }): Promise<number> {
  const dir = resolveDir(parseDir(o.dir));
  const { recheckRun } = await import('../chaos/harness.js');
  const log = (l: string) => io.err(stamp(l));
  return printReport(io, recheckRun(dir, log), o.json === true, log);
}

export async function chaosScenariosCommand(io: Io, o: { json?: boolean }): Promise<number> {
  const { SCENARIOS } = await import('../chaos/scenarios.js');
  const { FAULT_NAMES } = await import('../chaos/faults.js');
  if (o.json) printJson(io, { scenarios: SCENARIOS, faults: FAULT_NAMES });
  else {
    io.out(`${renderTable(['SCENARIO', 'FAULTS', 'DESCRIPTION'], SCENARIOS.map((s) => [s.name, s.steps.map((x) => x.fault).join(','), s.description]))}\n`);
    io.out(`\nfaults of random schedules (--random N --seed S): ${FAULT_NAMES.join(', ')}\n`);
  }
  return EXIT_OK;
}

export async function chaosCleanupCommand(io: Io, o: { dir?: string; json?: boolean }): Promise<number> {
  const dir = resolveDir(parseDir(o.dir));
  requireRoot('cleanup');
  const { cleanupDir } = await import('../chaos/teardown.js');
  const report = await cleanupDir(dir, (l) => io.err(stamp(l)));
  if (report === null) {
    if (o.json) printJson(io, { dir, found: false });
    else io.out(`${dir} holds no chaos run (no chaos-state.json); nothing to do\n`);
    return EXIT_OK;
  }
  if (o.json) printJson(io, { dir, found: true, ...report });
  else io.out(report.failed.length === 0 ? `cleaned up the chaos run in ${dir} (stopped: ${report.stopped.join(', ') || 'nothing was running'})\n` : `could not clean up: ${report.failed.join('; ')}\n`);
  return report.failed.length === 0 ? EXIT_OK : EXIT_FAILED;
}

export async function chaosWorkerCommand(io: Io, role: string, o: { config?: string; member?: string }): Promise<number> {
  if (!o.config) throw new InvalidInputError('--config FILE is required');
  if (o.member !== undefined) parseName('--member', o.member);
  const { runWorker } = await import('../chaos/workers.js');
  await runWorker(role, o.config, o.member, (l) => io.err(stamp(l)));
  return EXIT_OK;
}
