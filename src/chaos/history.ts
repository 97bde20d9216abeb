// What a chaos run records (the workers' and the harness's files in the run directory) and
// how it is read back. Times are epoch milliseconds.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One write of the workload: acknowledged (ok) or failed/unknown (may or may not be in). */
export interface AckRecord {
  k: string;
  id: number;
  /** Sent at. */
  s: number;
  /** Answer (or error) at. */
  e: number;
  ok: boolean;
  err?: string;
}

/**
 * One probe of one member: w = the test write committed and was acknowledged; l = it committed
 * only locally (the wait for the synchronous standby was cancelled); r = in recovery
 * (read-only); e = error or timeout.
 */
export interface ProbeRecord {
  m: string;
  s: number;
  /** Server clock when the write executed (before its commit), w/l only. */
  x?: number;
  e: number;
  o: 'w' | 'l' | 'r' | 'e';
  err?: string;
}

export type ObserveSample =
  | {
      t: number;
      ok: true;
      leader: string | null;
      primary: string | null;
      generation: number | null;
      syncStandbys: string[];
      syncConfirmed: string[];
      reason: string | null;
      roles: Record<string, string>;
      lagBytes: Record<string, number | null>;
    }
  | { t: number; ok: false; error: string };

/**
 * A standby's replay lag on a coarse log scale (0: under 64 KiB, then one step per doubling;
 * null: unknown): the observer records a new sample when it changes, so the report can draw lag
 * without a line every 200 ms.
 */
export function lagMagnitude(bytes: number | null | undefined): number | null {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return null;
  return Math.floor(Math.log2(1 + Math.max(0, bytes) / 65536));
}

export interface FaultRecord {
  /** 1, 2, ... in injection order. */
  seq: number;
  name: string;
  /** What was hit, e.g. "host p1 (primary pg1)". */
  target: string;
  at: number;
  /** When the fault was undone (null: instantaneous, e.g. a switchover or a kill whose restart is automatic). */
  healedAt: number | null;
  /** When the cluster was whole again (one primary, streaming standbys, writes acknowledged) after it. */
  recoveredAt?: number | null;
  /** Anything noteworthy (restart times, command output). */
  notes: string[];
}

export type FinalLists = { t: number; rows: { k: string; ids: number[] }[] } | { t: number; error: string };

export interface History {
  acks: AckRecord[];
  probes: ProbeRecord[];
  observations: ObserveSample[];
  faults: FaultRecord[];
  final: FinalLists | null;
  startedAt: number;
  endedAt: number;
}

export function readJsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  const out: T[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      /* a line cut by a kill: skip */
    }
  }
  return out;
}

export function readHistory(dir: string, members: string[], faults: FaultRecord[], startedAt: number, endedAt: number): History {
  const finalPath = join(dir, 'final.json');
  return {
    acks: readJsonl<AckRecord>(join(dir, 'acks.jsonl')),
    probes: members.flatMap((m) => readJsonl<ProbeRecord>(join(dir, `probes-${m}.jsonl`))),
    observations: readJsonl<ObserveSample>(join(dir, 'observe.jsonl')),
    faults,
    final: existsSync(finalPath) ? (JSON.parse(readFileSync(finalPath, 'utf8')) as FinalLists) : null,
    startedAt,
    endedAt,
  };
}
