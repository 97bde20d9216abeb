// A second pooler for bench/pooler: ONE PgBouncer process in front of the cluster's HAProxy,
// with the same rendered config as the router's (render-pgbouncer.ts, the cluster's routing
// spec) except poolerProcesses = 1, its own port and, if asked, a larger max_client_conn.
// The router fixes its process count when `up` writes its config, so this is how one cluster
// compares N so_reuseport processes with a single one. Started and stopped by verified pid;
// its files live in <cluster dir>/bench-single-pooler (0700, owned by the routing OS user).
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveRunIdentity, type OsIdentity } from '../src/agent/run-as.js';
import { buildPoolerUri } from '../src/cli/uri.js';
import { APP_USER } from '../src/domain/config.js';
import { layoutOf } from '../src/local/layout.js';
import { routerConfigs } from '../src/local/routing.js';
import { routingLayout, startPooler, stopVerified } from '../src/routing/processes.js';
import { renderPgbouncerIni, renderUserlist } from '../src/routing/render-pgbouncer.js';
import { parseRoutingSpec, POOLER_ADMIN_USER, type RoutingSpec } from '../src/routing/routing-types.js';
import type { TestCluster } from '../src/testkit/cluster.js';
import { freePort } from '../src/testkit/ports.js';

export interface SinglePooler {
  port: number;
  spec: RoutingSpec;
  /** URI of a pooled database (`app` -> rw, `app_ro` -> ro) through this process. */
  uri(database: string): string;
  stop(): Promise<void>;
}

/** The routing spec the cluster's router runs with (from its config file). */
export function clusterRoutingSpec(cluster: TestCluster): RoutingSpec & { osUser: string } {
  const [cfg] = routerConfigs(cluster.state(), layoutOf(cluster.dir));
  if (!cfg) throw new Error(`no router config in ${cluster.dir}`);
  return { ...cfg.routing, osUser: cfg.osUser };
}

async function writeOwned(path: string, text: string, id: OsIdentity | null): Promise<void> {
  await writeFile(path, text, { mode: 0o600, flag: 'w' });
  if (id) await chown(path, id.uid, id.gid);
}

async function mkdirOwned(path: string, id: OsIdentity | null): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  if (id) await chown(path, id.uid, id.gid);
}

export async function startSinglePooler(cluster: TestCluster, opts: { maxClientConn?: number } = {}): Promise<SinglePooler> {
  const base = clusterRoutingSpec(cluster);
  const { osUser, ...routing } = base;
  const port = await freePort();
  const spec = parseRoutingSpec({
    ...routing,
    poolerPort: port,
    poolerProcesses: 1,
    maxClientConn: Math.max(routing.maxClientConn, opts.maxClientConn ?? 0),
  });
  const id = resolveRunIdentity(osUser);
  const runDir = join(cluster.dir, 'bench-single-pooler');
  const layout = routingLayout(runDir, spec);
  const p = layout.poolers[0]!;
  await mkdirOwned(runDir, id);
  await mkdirOwned(p.dir, id);
  const password = cluster.secrets.appPassword;
  const admin = cluster.secrets.poolerAdminPassword;
  if (admin === undefined) throw new Error('the cluster has no pooler admin password');
  await writeOwned(layout.authFile, renderUserlist({ users: [{ user: APP_USER, password }], admin: { user: POOLER_ADMIN_USER, password: admin } }), id);
  await writeOwned(p.config, renderPgbouncerIni(spec, p), id);
  const pid = await startPooler(layout, 0, { osUser });
  return {
    port,
    spec,
    uri: (database) => buildPoolerUri(APP_USER, password, { host: '127.0.0.1', port }, database),
    stop: () => stopVerified(pid, p.config, 5000),
  };
}
