// A repository-side pgBackRest file written for one purpose (a backup, a restore, a scratch
// instance, the chaos archive check) and a runner that uses it: the file is 0600 and owned by
// the OS user pgBackRest runs as, since it holds the cipher pass; output is scrubbed of the pass.
import { chownSync } from 'node:fs';
import { writeFileAtomic } from '../local/state.js';
import type { OsIdentity } from '../agent/run-as.js';
import { createPgBackRest, type PgBackRest } from './pgbackrest.js';
import { DEFAULT_RETENTION, renderRepoConf, type BackupRepo, type PgInstance, type RetentionSpec } from './render-pgbackrest.js';

export interface RepoSideInput {
  /** Where the file goes (0600). */
  confPath: string;
  stanza: string;
  repo: BackupRepo;
  cipherPass: string;
  logDir: string;
  lockDir: string;
  /** The pg1..pgN the command needs (a backup: primary + standby; a restore: the target data dir). */
  members: PgInstance[];
  retention?: RetentionSpec;
  processMax?: number;
  identity: OsIdentity | null;
  /** Working directory of pgBackRest (default: /). */
  cwd?: string;
}

export function openRepoSide(i: RepoSideInput): PgBackRest {
  writeFileAtomic(i.confPath, renderRepoConf({
    stanza: i.stanza, repo: i.repo, cipherPass: i.cipherPass, logDir: i.logDir, lockDir: i.lockDir,
    processMax: i.processMax ?? 2, members: i.members, retention: i.retention ?? DEFAULT_RETENTION,
  }), 0o600);
  if (i.identity) chownSync(i.confPath, i.identity.uid, i.identity.gid);
  return createPgBackRest({ stanza: i.stanza, configFile: i.confPath, identity: i.identity, redact: [i.cipherPass], ...(i.cwd ? { cwd: i.cwd } : {}) });
}
