// Process helpers. A pid recorded in a file is trusted only together with its start time
// (field 22 of /proc/<pid>/stat), so a reused pid is never signalled. Nothing is ever
// looked up or killed by name.
import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcRef {
  pid: number;
  /** Start time in clock ticks since boot, as text. */
  startTime: string;
}

interface ProcStat {
  state: string;
  startTime: string;
}

export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) S ppid ..."; comm may hold spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const startTime = rest[19];
  if (state === undefined || startTime === undefined) return null;
  return { state, startTime };
}

/** A reference to a live process (null if it does not exist). */
export function procRefOf(pid: number): ProcRef | null {
  const st = readProcStat(pid);
  return st ? { pid, startTime: st.startTime } : null;
}

/** A process with this pid exists and is not a zombie (null: false). */
export function isPidAlive(pid: number | null): boolean {
  if (pid === null) return false;
  const st = readProcStat(pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X';
}

/** The same process is still alive (not a zombie, not a reused pid). */
export function isRefAlive(ref: ProcRef | null | undefined): boolean {
  if (!ref) return false;
  const st = readProcStat(ref.pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X' && st.startTime === ref.startTime;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves true once the process is gone, false after timeoutMs. */
export async function waitForExit(ref: ProcRef, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRefAlive(ref)) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

/** Signal a verified process; false if it was no longer ours. */
export function signalRef(ref: ProcRef, signal: NodeJS.Signals): boolean {
  if (!isRefAlive(ref)) return false;
  try {
    process.kill(ref.pid, signal);
    return true;
  } catch {
    return false;
  }
}

export interface StopPolicy {
  signal: NodeJS.Signals;
  graceMs: number;
  /** Sent when the grace period ends; null to give up instead. */
  escalate: NodeJS.Signals | null;
  escalateGraceMs: number;
}

/** Stop one verified process: signal, wait, escalate. Resolves true when it is gone. */
export async function stopRef(ref: ProcRef, policy: StopPolicy, log: (line: string) => void, what: string): Promise<boolean> {
  if (!signalRef(ref, policy.signal)) return true;
  if (await waitForExit(ref, policy.graceMs)) return true;
  if (policy.escalate === null) return !isRefAlive(ref);
  log(`${what} (pid ${ref.pid}) still running after ${policy.graceMs} ms; sending ${policy.escalate}`);
  signalRef(ref, policy.escalate);
  return waitForExit(ref, policy.escalateGraceMs);
}

/**
 * The postmaster that owns dataDir, verified: first line of postmaster.pid, alive, and its
 * working directory is the data directory (postgres chdirs there), so a reused pid is ignored.
 */
export function postmasterOf(dataDir: string): ProcRef | null {
  let pid: number;
  let real: string;
  try {
    pid = Number.parseInt(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
    real = realpathSync(dataDir);
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const ref = procRefOf(pid);
  if (!ref || !isRefAlive(ref)) return null;
  try {
    if (readlinkSync(`/proc/${pid}/cwd`) !== real) return null;
  } catch {
    return null;
  }
  return ref;
}
