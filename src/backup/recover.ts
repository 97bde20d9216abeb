// Restore a data directory from the repository with pgBackRest and recover it to a target:
// used by `ballast restore` (a new cluster's first member) and, later, by undrop and verify
// (scratch instances). The instance is driven through PostgresControl like any member.
// Steps: pgbackrest restore (archive_mode=off, so a restored server never pushes WAL into
// the source's repository) -> start -> replay to the target -> promote (target-action) ->
// stop -> drop pgBackRest's recovery settings from postgresql.auto.conf.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandFailedError, TimeoutError, errorMessage } from '../domain/errors.js';
import type { PostgresControl } from '../agent/postgres-control.js';
import { DYNAMIC_CONF } from '../agent/pg-config.js';
import type { PgBackRest } from './pgbackrest.js';
import { pgbackrestTargetArgs, type RestoreTarget } from './restore-target.js';

export interface RestoreDataDirInput {
  pgb: PgBackRest;
  target: RestoreTarget;
  /** Backup label to restore from (null: pgBackRest's choice, the newest). */
  set: string | null;
  /** Restore only these databases' files (others are zeroed and must be dropped): undrop. */
  dbInclude?: string[];
  /** Instead of the target: stop replay (paused, readable) as soon as the backup is consistent. */
  pauseAtConsistency?: boolean;
  progress: (line: string) => void;
}

/** pgbackrest restore into the (empty) pg1-path of the file `pgb` uses. */
export async function restoreDataDir(i: RestoreDataDirInput): Promise<void> {
  const args = ['restore', '--archive-mode=off', '--log-level-console=info'];
  if (i.pauseAtConsistency) args.push('--type=immediate', '--target-action=pause');
  else {
    args.push(...pgbackrestTargetArgs(i.target));
    if (i.target.kind !== 'latest') args.push('--target-action=promote');
  }
  if (i.set) args.push(`--set=${i.set}`);
  for (const db of i.dbInclude ?? []) args.push(`--db-include=${db}`);
  await i.pgb.run(args, {
    timeoutMs: 24 * 3600_000,
    onLine: (line) => {
      const m = /P\d+\s+INFO: (.*)$/.exec(line);
      if (m && !/command (begin|end)/.test(m[1] as string)) i.progress(`restore: ${m[1]}`);
    },
  });
}

/**
 * Start the restored instance and wait until recovery reached its target and it promoted; then
 * stop it (unless keepRunning). With `paused`, wait until replay paused at its target instead.
 */
export async function recoverToTarget(
  ctl: PostgresControl, dataDir: string, progress: (l: string) => void,
  opts: { timeoutMs?: number; keepRunning?: boolean; paused?: () => Promise<boolean> } = {},
): Promise<{ lsn: string | null; timeline: number | null }> {
  const timeoutMs = opts.timeoutMs ?? 6 * 3600_000;
  // Files that belong to the source's members: a standby's role file would make it stream from the source.
  await rm(join(dataDir, DYNAMIC_CONF), { force: true });
  await rm(join(dataDir, 'standby.signal'), { force: true });
  await ctl.writeStaticConfig();
  progress('recovery: starting postgres to replay WAL from the archive');
  const deadline = Date.now() + timeoutMs;
  await ctl.start(Math.min(timeoutMs, 600_000)).catch(async (e: unknown) => {
    throw new CommandFailedError(`the restored instance did not start: ${errorMessage(e)}`, { cause: e });
  });
  let lastLine = 0;
  for (;;) {
    if ((await ctl.postmasterPid()) === null) {
      const log = await ctl.logEnd(8192);
      const reason = /FATAL:\s+(.*)/.exec(log)?.[1] ?? 'postgres exited';
      throw new CommandFailedError(`recovery failed: ${reason}\n${log.split('\n').slice(-8).join('\n')}`);
    }
    const obs = await ctl.observe().catch(() => null);
    if (obs && opts.paused && obs.inRecovery && (await opts.paused())) {
      progress(`recovery: paused at ${obs.replayLsn}`);
      return { lsn: obs.replayLsn, timeline: obs.timeline };
    }
    if (obs && !obs.inRecovery && !opts.paused) {
      progress(`recovery: reached the target and promoted (timeline ${obs.timeline}, LSN ${obs.currentLsn})`);
      if (opts.keepRunning) return { lsn: obs.currentLsn, timeline: obs.timeline };
      await ctl.stop('fast', 60_000);
      await dropRecoverySettings(dataDir);
      return { lsn: obs.currentLsn, timeline: obs.timeline };
    }
    if (Date.now() - lastLine > 2000) {
      lastLine = Date.now();
      progress(`recovery: replaying WAL, at ${obs?.replayLsn ?? '(starting)'}`);
    }
    if (Date.now() > deadline) throw new TimeoutError(`recovery did not finish within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const RECOVERY_KEYS = /^\s*(restore_command|recovery_target\w*|archive_mode)\s*=/;
const TARGET_KEYS = /^\s*recovery_target\w*\s*=/;

/** Replace the recovery target settings in postgresql.auto.conf (the instance must be stopped). */
export async function retarget(dataDir: string, settings: Record<string, string>): Promise<void> {
  const path = join(dataDir, 'postgresql.auto.conf');
  const text = await readFile(path, 'utf8');
  const kept = text.split('\n').filter((l) => !TARGET_KEYS.test(l) && l.trim() !== '');
  for (const [k, v] of Object.entries(settings)) kept.push(`${k} = '${v.replace(/'/g, "''")}'`);
  await writeFile(path, `${kept.join('\n')}\n`);
}

/** Remove what pgBackRest's restore put in postgresql.auto.conf (recovery settings, archive_mode=off). */
export async function dropRecoverySettings(dataDir: string): Promise<void> {
  const path = join(dataDir, 'postgresql.auto.conf');
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return;
  const kept = text.split('\n').filter((l) => !RECOVERY_KEYS.test(l) && !/^# Recovery settings generated by pgBackRest/.test(l));
  await writeFile(path, kept.join('\n'));
  await rm(join(dataDir, 'recovery.signal'), { force: true });
}
