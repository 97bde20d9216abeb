// `ballast backup verify`: thin adapter over src/backup/verify.ts for a local deployment. The
// scratch instance lives under DIR/backup/verify-<ms> (src/local/scratch.ts); the result goes to
// DIR/backup/last-verify.json (0600, `backup list` shows it) and into the cluster's events.
import { join } from 'node:path';
import { CommandFailedError, errorMessage } from '../domain/errors.js';
import { localBackupSite } from '../local/backup-site.js';
import { layoutOf } from '../local/layout.js';
import { loadSecrets } from '../local/prepare.js';
import { createScratch } from '../local/scratch.js';
import { writeFileAtomic, type DeploymentState } from '../local/state.js';
import {
  LAST_VERIFY_FILE, failureOf, verifyBackups, verifyEventOf, type VerifyRecord,
} from '../backup/verify.js';
import { localTarget } from './backup-commands.js';
import { EXIT_FAILED, EXIT_OK, createProgress, printJson, type Io } from './io.js';
import { withStore, type TargetOptions } from './target.js';

export async function backupVerifyCommand(io: Io, o: TargetOptions & { json?: boolean }): Promise<number> {
  const t = localTarget(o);
  const progress = createProgress(io);
  // Ctrl-C / SIGTERM: stop between steps, still stop and remove the scratch instance.
  const ac = new AbortController();
  const onSignal = () => {
    if (ac.signal.aborted) return;
    progress('verify: interrupted; removing the scratch instance (nothing is recorded)');
    ac.abort(new CommandFailedError('backup verify was interrupted; nothing was recorded'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let record: VerifyRecord;
  try {
    record = await verifyLocal(t.state, progress, ac.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const file = join(layoutOf(t.state.dir).backupDir, LAST_VERIFY_FILE);
  writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`, 0o600);
  await withStore(t.endpoints, (store) => store.appendEvent(t.cluster, verifyEventOf(record)))
    .catch((e: unknown) => progress(`verify: the event was not recorded (is the cluster running?): ${errorMessage(e)}`));
  if (o.json) {
    printJson(io, record); // one JSON document: the record says ok or not
    return record.ok ? EXIT_OK : EXIT_FAILED;
  }
  io.out(renderVerify(record, file));
  if (!record.ok) throw new CommandFailedError(`backup verification failed: ${failureOf(record) ?? 'see above'}`);
  return EXIT_OK;
}

/** Verify the repository of the local deployment in `state`, restoring into a scratch instance under DIR/backup. */
export async function verifyLocal(state: DeploymentState, progress: (l: string) => void, signal?: AbortSignal): Promise<VerifyRecord> {
  const secrets = loadSecrets(layoutOf(state.dir));
  const site = localBackupSite(state, secrets); // refuses deployments without backups or cipher pass
  return verifyBackups({
    site,
    members: state.members.map((m) => m.name),
    createScratch: () => createScratch(state, secrets, 'verify'),
    progress,
    ...(signal ? { signal } : {}),
  });
}

function mark(ok: boolean, ran = true): string {
  return !ran ? 'skipped' : ok ? 'ok' : 'FAILED';
}

export function renderVerify(r: VerifyRecord, file: string): string {
  const rows: [string, string, string][] = [
    ['pgbackrest verify', mark(r.pgbackrestVerify.ok), r.pgbackrestVerify.detail],
    ['restore test', mark(r.restore.ok), r.restore.detail],
    [r.amcheck.method ?? 'consistency check', mark(r.amcheck.ok, r.amcheck.method !== null), r.amcheck.detail],
  ];
  const lines = rows.map(([what, m, detail]) => `${what.padEnd(18)} ${m.padEnd(7)} ${detail.split('\n').join('\n'.padEnd(28))}`);
  lines.push(`backup verify ${r.ok ? 'passed' : 'FAILED'} in ${r.seconds.toFixed(1)} s (backup ${r.backup ?? 'none'}); recorded in ${file} and the cluster events`);
  return `${lines.join('\n')}\n`;
}
