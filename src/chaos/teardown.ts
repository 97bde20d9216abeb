// Teardown of a chaos run from its state file alone (also after a crash of the harness):
// recorded processes (SIGCONT, SIGTERM, then SIGKILL, verified pids only), anything still
// inside the run's namespaces (which only this run's processes can be in), the run's mounts
// (only paths inside its directory), then the namespaces. Idempotent.
import { readFileSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { errorMessage } from '../domain/errors.js';
import { isRefAlive, stopRef } from '../local/proc.js';
import { destroyNamespaces, run } from './netns.js';
import { RunRecord, readRunState } from './run-state.js';

export interface TeardownReport {
  stopped: string[];
  failed: string[];
}

function isMounted(path: string): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === path);
  } catch {
    return false;
  }
}

export async function teardownRecord(record: RunRecord, log: (l: string) => void): Promise<TeardownReport> {
  const report: TeardownReport = { stopped: [], failed: [] };
  const procs = Object.entries(record.state.procs);
  for (const [, ref] of procs) if (isRefAlive(ref)) try { process.kill(ref.pid, 'SIGCONT'); } catch { /* gone */ }
  await Promise.all(procs.map(async ([key, ref]) => {
    if (!isRefAlive(ref)) {
      record.setProc(key, null);
      return;
    }
    const gone = await stopRef(ref, { signal: 'SIGTERM', graceMs: 5000, escalate: 'SIGKILL', escalateGraceMs: 3000 }, log, key);
    if (gone) {
      report.stopped.push(key);
      record.setProc(key, null);
    } else report.failed.push(`${key} (pid ${ref.pid})`);
  }));
  // Kills whatever remains inside (postgres, HAProxy, PgBouncer of a crashed run), then deletes.
  const nsFailed = await destroyNamespaces(record, log);
  report.failed.push(...nsFailed);
  const root = resolve(record.state.dir) + sep;
  for (const m of [...record.state.mounts]) {
    if (!resolve(m).startsWith(root)) {
      report.failed.push(`mount ${m}: outside the run directory, not touched`);
      continue;
    }
    if (isMounted(m)) {
      try {
        await run('/usr/bin/umount', [m]);
      } catch (e) {
        log(`umount ${m} failed (${errorMessage(e)}); detaching it lazily`);
        try {
          await run('/usr/bin/umount', ['-l', m]);
        } catch (e2) {
          report.failed.push(`mount ${m}: ${errorMessage(e2)}`);
          continue;
        }
      }
    }
    record.removeMount(m);
  }
  return report;
}

/** `ballast chaos cleanup --dir DIR`: null when DIR holds no chaos run. */
export async function cleanupDir(dir: string, log: (l: string) => void): Promise<TeardownReport | null> {
  const state = readRunState(dir);
  if (!state) return null;
  return teardownRecord(new RunRecord(state), log);
}
