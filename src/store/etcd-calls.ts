// Shared plumbing of the etcd store: the calls the store, its sessions and its leaderships use.
import type { Etcd3, ITxnRequest, KVClient } from 'etcd3';

export type CallOptions = NonNullable<Parameters<KVClient['range']>[1]>;

/** What sessions and leaderships need from the store (implemented by EtcdStore). */
export interface EtcdCalls {
  readonly client: Etcd3;
  /** Run one etcd call with a deadline; failures become StoreUnavailableError. */
  call<T>(what: string, fn: (o: CallOptions) => Promise<T>): Promise<T>;
  txn(what: string, req: ITxnRequest): ReturnType<Etcd3['kv']['txn']>;
  /** Mod revision of the command with this id as last read, for consume-in-txn. */
  commandRevision(cluster: string, id: string): Promise<string | null>;
}

export const enc = (s: string): Buffer => Buffer.from(s, 'utf8');
