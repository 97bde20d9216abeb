// The local deployment's backup site: the repository under DIR/backup, pgBackRest run as the
// postgres OS user with a repository-side file naming the members a command needs.
import type { Secrets } from '../domain/config.js';
import { InvalidInputError } from '../domain/errors.js';
import type { MemberName } from '../domain/types.js';
import { resolveRunIdentity } from '../agent/run-as.js';
import type { BackupSite } from '../backup/operations.js';
import { DEFAULT_RETENTION, type PgInstance, type RetentionSpec } from '../backup/render-pgbackrest.js';
import { openRepoSide } from '../backup/repo-side.js';
import { layoutOf } from './layout.js';
import { OS_USER } from './prepare.js';
import type { DeploymentState } from './state.js';

/**
 * `retention`: the cluster spec's `backups.retention` when the caller has read it (pgBackRest
 * expires by it after every backup); absent: the deployment's stored count.
 */
export function localBackupSite(state: DeploymentState, secrets: Secrets, retention?: RetentionSpec): BackupSite {
  const layout = layoutOf(state.dir);
  const b = state.backup;
  if (!b) throw new InvalidInputError(`the deployment in ${state.dir} has no backup configuration; run "ballast up --dir ${state.dir}" once to add it`);
  if (!secrets.repoCipherPass) throw new InvalidInputError(`${layout.secrets} has no repoCipherPass; run "ballast up --dir ${state.dir}" once to add it`);
  const cipherPass = secrets.repoCipherPass;
  const identity = resolveRunIdentity(OS_USER);
  const instance = (name: MemberName): PgInstance => {
    const m = state.members.find((x) => x.name === name);
    if (!m) throw new InvalidInputError(`no member ${name} in ${state.dir}`);
    return { dataDir: layout.memberData(name), port: m.port, socketDir: layout.memberDir(name) };
  };
  return {
    stanza: b.stanza,
    async pgbackrest(members) {
      return openRepoSide({
        confPath: layout.backupConf, stanza: b.stanza, repo: { kind: 'local', path: layout.backupRepo }, cipherPass,
        logDir: layout.backupLog, lockDir: layout.backupLock, members: members.map(instance),
        retention: retention ?? { ...DEFAULT_RETENTION, full: b.retentionFull }, identity, cwd: layout.backupDir,
      });
    },
  };
}
