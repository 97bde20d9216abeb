// The local deployment's router: its config (written by `up`), and the verified pids of the
// HAProxy and PgBouncer processes it runs, read synchronously for `up`/`down` checks.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { loadJsonFile } from '../domain/config.js';
import { routingLayout, type RoutingLayout } from '../routing/processes.js';
import { routerConfigSchema, type RouterConfig, type RouterConfigInput } from '../routing/router-config.js';
import { LOOPBACK, etcdEndpoint, type Layout } from './layout.js';
import type { DeploymentState } from './state.js';

/** Pooler processes of a local router: one per core, at most 4 (a demo on a big box). */
export function localPoolerProcesses(): number {
  return Math.min(4, Math.max(1, availableParallelism()));
}

export function routerConfigOf(state: DeploymentState, layout: Layout, id: string, osUser: string): RouterConfigInput {
  const r = state.routing;
  if (!r) throw new Error('routerConfigOf: the state has no routing ports');
  return {
    cluster: state.cluster,
    id,
    etcd: [etcdEndpoint(state.etcd.clientPort)],
    runDir: layout.routerRunDir(id),
    secretsFile: layout.secrets,
    osUser,
    members: state.members.map((m) => ({ name: m.name, host: m.host, port: m.port, apiHost: LOOPBACK, apiPort: m.apiPort })),
    routing: {
      listenAddress: LOOPBACK,
      rwPort: r.rwPort,
      roPort: r.roPort,
      poolerPort: r.poolerPort,
      poolerProcesses: localPoolerProcesses(),
      ...(r.maxLagMs !== undefined ? { maxLagMs: r.maxLagMs } : {}),
      ...(r.maxLagBytes !== undefined ? { maxLagBytes: r.maxLagBytes } : {}),
      ...(r.readFallback !== undefined ? { readFallback: r.readFallback } : {}),
    },
  };
}

/** Configs of the deployment's routers that exist on disk (a damaged one is skipped). */
export function routerConfigs(state: DeploymentState, layout: Layout): RouterConfig[] {
  const out: RouterConfig[] = [];
  for (const r of state.routers ?? []) {
    const file = layout.routerConfig(r.id);
    if (!existsSync(file)) continue;
    try {
      out.push(loadJsonFile(routerConfigSchema, file, 'router config'));
    } catch {
      /* damaged: nothing to verify pids against */
    }
  }
  return out;
}

export function routingLayoutOf(cfg: RouterConfig): RoutingLayout {
  return routingLayout(cfg.runDir, cfg.routing);
}

function verifiedPidSync(pidFile: string, configPath: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(configPath) ? pid : null;
  } catch {
    return null;
  }
}

/** "haproxy rt1 pid N", "pgbouncer rt1/0 pid M" for every live routing process. */
export function liveRoutingProcesses(state: DeploymentState, layout: Layout): string[] {
  const out: string[] = [];
  for (const cfg of routerConfigs(state, layout)) {
    const rl = routingLayoutOf(cfg);
    const h = verifiedPidSync(rl.haproxyPidFile, rl.haproxyConfig);
    if (h !== null) out.push(`haproxy ${cfg.id} pid ${h}`);
    for (const p of rl.poolers) {
      const pid = verifiedPidSync(p.pidFile, p.config);
      if (pid !== null) out.push(`pgbouncer ${cfg.id}/${p.index} pid ${pid}`);
    }
  }
  return out;
}
