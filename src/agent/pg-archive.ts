// A member's part of WAL archiving: where its pgBackRest file and directories live, the
// file's text, the postgresql.conf settings that use it, and a runner for it. The agent writes the files
// (postgres-control.ts); src/backup/render-pgbackrest.ts renders them.
import { join } from 'node:path';
import type { AgentConfig, Secrets } from '../domain/config.js';
import { InvalidInputError } from '../domain/errors.js';
import { archiveCommands, archiveParameters, renderMemberConf } from '../backup/render-pgbackrest.js';
import { createPgBackRest, type PgBackRest } from '../backup/pgbackrest.js';
import { resolveRunIdentity } from './run-as.js';

export interface MemberBackupPaths {
  conf: string;
  /** Where a standby's archive_command fetches a segment to prove it is archived (removed at once). */
  check: string;
  spool: string;
  log: string;
  lock: string;
}

export function memberBackupPaths(runDir: string): MemberBackupPaths {
  const base = join(runDir, 'pgbackrest');
  return { conf: join(runDir, 'pgbackrest.conf'), check: join(base, 'archived-check.tmp'), spool: join(base, 'spool'), log: join(base, 'log'), lock: join(base, 'lock') };
}

/** The member's pgbackrest.conf, or null when the member does not archive. */
export function renderMemberBackupConf(config: AgentConfig, secrets: Secrets): string | null {
  const b = config.backup;
  if (!b) return null;
  if (!secrets.repoCipherPass) throw new InvalidInputError(`the secrets file ${config.secretsFile} has no repoCipherPass, which archiving needs`);
  const p = memberBackupPaths(config.runDir);
  return renderMemberConf({
    stanza: b.stanza,
    repo: b.repo,
    cipherPass: secrets.repoCipherPass,
    logDir: p.log,
    lockDir: p.lock,
    spoolDir: p.spool,
    processMax: b.processMax,
    pushQueueMax: b.pushQueueMax,
    self: { dataDir: config.dataDir, port: config.port, socketDir: config.runDir },
  });
}

/** archive_mode/archive_command/restore_command/archive_timeout, or {} without archiving. */
export function memberArchiveParameters(config: AgentConfig): Record<string, string> {
  const b = config.backup;
  if (!b) return {};
  return archiveParameters(memberBackupPaths(config.runDir).conf, b.stanza, b.archiveTimeoutSec);
}

/** The primary's and the standby's archive_command, or null without archiving. */
export function memberArchiveCommands(config: AgentConfig): { push: string; check: string } | null {
  const b = config.backup;
  if (!b) return null;
  const p = memberBackupPaths(config.runDir);
  return archiveCommands(p.conf, b.stanza, p.check);
}

/** pgBackRest through the member's own file, as its OS user, output scrubbed (null without archiving). Runs nothing yet. */
export function memberPgBackRest(config: AgentConfig, secrets: Secrets): PgBackRest | null {
  const b = config.backup;
  if (!b) return null;
  return createPgBackRest({
    stanza: b.stanza, configFile: memberBackupPaths(config.runDir).conf, identity: resolveRunIdentity(config.osUser),
    redact: [secrets.repoCipherPass ?? ''], cwd: config.runDir,
  });
}
