// Local ("embedded") deployment: where everything lives under one directory.
//
//   DIR/state.json               ports, names and pids (0600, written atomically)
//   DIR/secrets.json             passwords (0600; never in argv, env or logs)
//   DIR/etcd/                    etcd data
//   DIR/members/<name>/          member runDir (owned by postgres, 0700): agent.json, data/
//   DIR/coordinators/<id>.json   coordinator configs
//   DIR/routers/<id>.json        router configs (no secrets)
//   DIR/routers/<id>/            router runDir (owned by postgres, 0700): HAProxy and PgBouncer
//                                configs, auth file (0600), sockets, pid files, their logs
//   DIR/logs/<name>.log          stdout+stderr of each child; supervisor.log
//   DIR/backup/                  owned by postgres, 0700: repo/ (the pgBackRest repository),
//                                pgbackrest.conf (0600, holds the cipher pass), log/, lock/
import { join } from 'node:path';

export const ETCD_NAME = 'etcd1';
export const LOOPBACK = '127.0.0.1';

export interface Layout {
  dir: string;
  state: string;
  secrets: string;
  etcdData: string;
  membersDir: string;
  coordinatorsDir: string;
  routersDir: string;
  logsDir: string;
  backupDir: string;
  backupRepo: string;
  backupConf: string;
  backupLog: string;
  backupLock: string;
  memberDir(name: string): string;
  memberData(name: string): string;
  agentConfig(name: string): string;
  coordinatorConfig(id: string): string;
  routerConfig(id: string): string;
  routerRunDir(id: string): string;
  log(name: string): string;
}

export function layoutOf(dir: string): Layout {
  return {
    dir,
    state: join(dir, 'state.json'),
    secrets: join(dir, 'secrets.json'),
    etcdData: join(dir, 'etcd'),
    membersDir: join(dir, 'members'),
    coordinatorsDir: join(dir, 'coordinators'),
    routersDir: join(dir, 'routers'),
    logsDir: join(dir, 'logs'),
    backupDir: join(dir, 'backup'),
    backupRepo: join(dir, 'backup', 'repo'),
    backupConf: join(dir, 'backup', 'pgbackrest.conf'),
    backupLog: join(dir, 'backup', 'log'),
    backupLock: join(dir, 'backup', 'lock'),
    memberDir: (name) => join(dir, 'members', name),
    memberData: (name) => join(dir, 'members', name, 'data'),
    agentConfig: (name) => join(dir, 'members', name, 'agent.json'),
    coordinatorConfig: (id) => join(dir, 'coordinators', `${id}.json`),
    routerConfig: (id) => join(dir, 'routers', `${id}.json`),
    routerRunDir: (id) => join(dir, 'routers', id),
    log: (name) => join(dir, 'logs', `${name}.log`),
  };
}

/** pg1..pgN */
export function memberNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `pg${i + 1}`);
}

/** co1..co3 (always three: one leads, two stand by). */
export function coordinatorIds(): string[] {
  return ['co1', 'co2', 'co3'];
}

/** One router on the local host (HAProxy + PgBouncer for the cluster's endpoints). */
export function routerIds(): string[] {
  return ['rt1'];
}

export function etcdEndpoint(clientPort: number): string {
  return `http://${LOOPBACK}:${clientPort}`;
}
