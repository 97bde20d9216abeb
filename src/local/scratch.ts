// A scratch PostgreSQL instance restored from a local deployment's own repository (undrop, and
// anything else that needs a private copy of the past): its own directory under DIR/backup,
// a free loopback port, never archiving (no `backup` section in its config), removed afterwards.
import { chownSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { agentConfigSchema, type AgentConfig, type Secrets } from '../domain/config.js';
import { createLogger } from '../domain/log.js';
import { PostgresControl } from '../agent/postgres-control.js';
import { resolveRunIdentity } from '../agent/run-as.js';
import type { PgBackRest } from '../backup/pgbackrest.js';
import { openRepoSide } from '../backup/repo-side.js';
import { LOOPBACK, etcdEndpoint, layoutOf } from './layout.js';
import { freePorts } from './ports.js';
import { OS_USER } from './prepare.js';
import type { DeploymentState } from './state.js';

export interface Scratch {
  dir: string;
  runDir: string;
  dataDir: string;
  port: number;
  config: AgentConfig;
  ctl: PostgresControl;
  /** pgBackRest reading the deployment's repository, restoring into this instance's data dir. */
  pgb: PgBackRest;
  /** Stop postgres (immediate) and remove the directory. */
  remove(): Promise<void>;
}

export async function createScratch(state: DeploymentState, secrets: Secrets, purpose: string): Promise<Scratch> {
  const layout = layoutOf(state.dir);
  const identity = resolveRunIdentity(OS_USER);
  const dir = join(layout.backupDir, `${purpose}-${Date.now()}`);
  const runDir = join(dir, 'run');
  const dataDir = join(dir, 'data');
  for (const d of [dir, runDir, dataDir, join(dir, 'log'), join(dir, 'lock')]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    if (identity) chownSync(d, identity.uid, identity.gid);
  }
  const [port] = (await freePorts(1)) as [number];
  const config = agentConfigSchema.parse({
    cluster: state.cluster, name: 'scratch', host: LOOPBACK, port, apiHost: LOOPBACK, apiPort: port,
    dataDir, runDir, etcd: [etcdEndpoint(state.etcd.clientPort)], secretsFile: layout.secrets, osUser: OS_USER,
    // Private and small (max_connections etc. must stay >= the primary's for hot standby).
    pgParameters: { shared_buffers: '32MB', hot_standby: 'on' },
  });
  const b = state.backup!;
  const pgb = openRepoSide({
    confPath: join(dir, 'pgbackrest.conf'), stanza: b.stanza, repo: { kind: 'local', path: layout.backupRepo }, cipherPass: secrets.repoCipherPass!,
    logDir: join(dir, 'log'), lockDir: join(dir, 'lock'), members: [{ dataDir, port, socketDir: runDir }], identity, cwd: dir,
  });
  const log = createLogger(purpose);
  log.level = 'warn';
  const ctl = new PostgresControl(config, secrets, log);
  return {
    dir, runDir, dataDir, port, config, ctl, pgb,
    async remove() {
      await ctl.stop('immediate', 30_000).catch(() => undefined);
      await ctl.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
