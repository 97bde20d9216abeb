// etcd key layout of one cluster.
import type { MemberName } from './types.js';

export function clusterPrefix(cluster: string): string {
  return `/ballast/${cluster}/`;
}

export const keys = {
  spec: (c: string) => `${clusterPrefix(c)}spec`,
  view: (c: string) => `${clusterPrefix(c)}view`,
  command: (c: string) => `${clusterPrefix(c)}command`,
  membersPrefix: (c: string) => `${clusterPrefix(c)}members/`,
  member: (c: string, m: MemberName) => `${clusterPrefix(c)}members/${m}`,
  /** Coordinator election (etcd election API prefix). */
  election: (c: string) => `${clusterPrefix(c)}coordinator`,
  eventsPrefix: (c: string) => `${clusterPrefix(c)}events/`,
  /** Router status (one per client-side host), under the router's lease. */
  routersPrefix: (c: string) => `${clusterPrefix(c)}routers/`,
  router: (c: string, id: string) => `${clusterPrefix(c)}routers/${id}`,
  /** Scheduled backups: last runs and the running claim (one document, CAS). */
  backupsLast: (c: string) => `${clusterPrefix(c)}backups/last`,
};
