// Taking a backup of a local deployment: for `ballast backup run` and for the elected
// coordinator's schedule (a BackupRunner). Retention comes from the cluster spec in etcd, so
// pgBackRest's expire after each backup applies what `ballast backup schedule` set.
import { runBackup, readStanzaInfo, type BackupResult, type BackupType } from '../backup/operations.js';
import { newestInRepository, type BackupRunner } from '../backup/scheduler.js';
import { BallastError } from '../domain/errors.js';
import type { Store } from '../store/store.js';
import { localBackupSite } from './backup-site.js';
import { layoutOf } from './layout.js';
import { loadSecrets } from './prepare.js';
import { readState, type DeploymentState } from './state.js';

/** Take one backup of the deployment in `state` and record it as an event. */
export async function takeLocalBackup(store: Store, state: DeploymentState, type: BackupType, progress: (l: string) => void): Promise<BackupResult> {
  const snap = await store.readCluster(state.cluster);
  const site = localBackupSite(state, loadSecrets(layoutOf(state.dir)), snap.spec?.backups?.retention);
  try {
    const r = await runBackup({ site, members: snap.members, primary: snap.view?.primary ?? null, syncStandbys: snap.view?.syncStandbys ?? [], type, progress });
    await store.appendEvent(state.cluster, {
      at: Date.now(), source: 'backup', level: 'info',
      message: `backup ${r.backup.id} (${r.backup.type}) taken from ${r.backup.member ?? '?'} in ${r.seconds.toFixed(1)} s, ${r.backup.sizeBytes} bytes, LSN ${r.backup.startLsn}..${r.backup.stopLsn} (code backup-done)`,
    }).catch(() => undefined);
    return r;
  } catch (e) {
    await store.appendEvent(state.cluster, { at: Date.now(), source: 'backup', level: 'error', message: `backup (${type}) failed: ${(e as Error).message} (code backup-failed)` }).catch(() => undefined);
    throw e;
  }
}

function deploymentIn(dir: string): DeploymentState {
  const state = readState(layoutOf(dir).state);
  if (!state) throw new BallastError('NOT_FOUND', `${dir} holds no ballast deployment (no state.json): cannot take scheduled backups`);
  return state;
}

/** The coordinator's runner for the deployment in `dir` (state.json is re-read on every call). */
export function localBackupRunner(dir: string, store: Store, progress: (l: string) => void): BackupRunner {
  return {
    async run(type) {
      const r = await takeLocalBackup(store, deploymentIn(dir), type, progress);
      return { id: r.backup.id };
    },
    async newest() {
      const state = deploymentIn(dir);
      const snap = await store.readCluster(state.cluster);
      const site = localBackupSite(state, loadSecrets(layoutOf(dir)), snap.spec?.backups?.retention);
      const info = await readStanzaInfo(await site.pgbackrest(state.members.map((m) => m.name)));
      return newestInRepository(info.backups);
    },
  };
}
