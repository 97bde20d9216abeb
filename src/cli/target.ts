// Which cluster a command talks to: a local deployment (--dir) or any etcd (--etcd --cluster).
import { BallastError, InvalidInputError } from '../domain/errors.js';
import { etcdEndpoint, layoutOf } from '../local/layout.js';
import { resolveDir } from '../local/prepare.js';
import { readState, type DeploymentState } from '../local/state.js';
import { createEtcdStore } from '../store/etcd-store.js';
import type { Store } from '../store/store.js';
import { parseDir, parseEtcdUrls, parseName } from './args.js';
import type { KnownMember } from './describe.js';

export interface TargetOptions {
  dir?: string;
  etcd?: string;
  cluster?: string;
}

export interface Target {
  cluster: string;
  endpoints: string[];
  /** Members from state.json (empty with --etcd). */
  known: KnownMember[];
  dir: string | null;
  state: DeploymentState | null;
}

/** Pure part: validate the flags (throws InvalidInputError). */
export function checkTargetFlags(o: TargetOptions): void {
  if (o.dir !== undefined && o.etcd !== undefined) throw new InvalidInputError('use either --dir or --etcd, not both');
  if (o.dir === undefined && o.etcd === undefined) throw new InvalidInputError('--dir DIR (local deployment) or --etcd URL --cluster NAME is required');
  if (o.dir !== undefined) {
    parseDir(o.dir);
    if (o.cluster !== undefined) parseName('--cluster', o.cluster);
  } else {
    parseEtcdUrls(o.etcd ?? '');
    parseName('--cluster', o.cluster ?? 'main');
  }
}

export function resolveTarget(o: TargetOptions): Target {
  checkTargetFlags(o);
  if (o.dir !== undefined) {
    const dir = resolveDir(parseDir(o.dir));
    const state = readState(layoutOf(dir).state);
    if (!state) throw new BallastError('NOT_FOUND', `${dir} holds no ballast deployment (no state.json)`);
    if (o.cluster !== undefined && o.cluster !== state.cluster) {
      throw new InvalidInputError(`${dir} holds cluster '${state.cluster}', not '${o.cluster}'`);
    }
    return {
      cluster: state.cluster,
      endpoints: [etcdEndpoint(state.etcd.clientPort)],
      known: state.members.map((m) => ({ name: m.name, host: m.host, port: m.port })),
      dir,
      state,
    };
  }
  return { cluster: o.cluster ?? 'main', endpoints: parseEtcdUrls(o.etcd ?? ''), known: [], dir: null, state: null };
}

export async function withStore<T>(endpoints: string[], fn: (store: Store) => Promise<T>): Promise<T> {
  const store = createEtcdStore(endpoints, { callTimeoutMs: 3000 });
  try {
    return await fn(store);
  } finally {
    await store.close().catch(() => undefined);
  }
}
