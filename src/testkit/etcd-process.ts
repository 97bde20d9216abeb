// Test kit: a single-member etcd on free loopback ports, owned by exactly one pid.
// Modes: running -> (pause/resume: SIGSTOP/SIGCONT) -> stopped (stop) -> running again
// (restart: same ports, same data dir). Processes are only ever signalled by their own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TimeoutError, errorMessage } from '../domain/errors.js';
import { freePorts } from './ports.js';

export interface EtcdProcess {
  /** http://127.0.0.1:<client port> */
  readonly endpoint: string;
  /** Pid of the current etcd process (changes after restart). */
  readonly pid: number;
  readonly dataDir: string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
  /** Start again on the same ports and data dir (stops first if running). */
  restart(): Promise<void>;
  /** SIGSTOP: the process keeps its sockets but answers nothing. */
  pause(): void;
  /** SIGCONT */
  resume(): void;
}

const ETCD_BIN = process.env.BALLAST_ETCD_BIN ?? '/usr/bin/etcd';
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last-resort cleanup: kill our own children (by pid) if the test process exits early. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

async function isHealthy(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(500) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

export async function startEtcd(dir: string): Promise<EtcdProcess> {
  installExitHook();
  const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const dataDir = join(dir, 'etcd-data');
  const logFile = join(dir, 'etcd.log');
  mkdirSync(dir, { recursive: true });
  const name = 'ballast-test';
  let child: ChildProcess | null = null;

  const launch = async (): Promise<void> => {
    const logFd = openSync(logFile, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn(
        ETCD_BIN,
        [
          `--name=${name}`,
          `--data-dir=${dataDir}`,
          `--listen-client-urls=${endpoint}`,
          `--advertise-client-urls=${endpoint}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=${name}=${peerUrl}`,
          '--initial-cluster-state=new',
          '--logger=zap',
          '--log-level=warn',
        ],
        { stdio: ['ignore', logFd, logFd] },
      );
    } finally {
      closeSync(logFd);
    }
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    let spawnError: Error | null = null;
    proc.once('error', (e) => {
      spawnError = e;
    });
    child = proc;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (spawnError !== null) throw new Error(`cannot start etcd: ${errorMessage(spawnError)}`, { cause: spawnError });
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`etcd exited during start (code ${proc.exitCode}, signal ${proc.signalCode}); see ${logFile}`);
      }
      if (await isHealthy(endpoint)) return;
      await sleep(50);
    }
    await stopChild(proc);
    throw new TimeoutError(`etcd at ${endpoint} not healthy within 15 s; see ${logFile}`);
  };

  const stopChild = async (proc: ChildProcess): Promise<void> => {
    if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    try {
      process.kill(proc.pid, 'SIGCONT'); // a paused process would not act on SIGTERM
      process.kill(proc.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    if (await waitExit(proc, 5000)) return;
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await waitExit(proc, 5000);
  };

  const current = (): ChildProcess => {
    if (child === null) throw new Error('etcd was never started');
    return child;
  };

  await launch();
  return {
    endpoint,
    dataDir,
    get pid(): number {
      return current().pid ?? -1;
    },
    stop: async () => {
      if (child !== null) await stopChild(child);
    },
    restart: async () => {
      if (child !== null) await stopChild(child);
      await launch();
    },
    pause: () => {
      const p = current();
      if (p.pid !== undefined && p.exitCode === null) {
        process.kill(p.pid, 'SIGSTOP');
        waitAllThreadsStopped(p.pid);
      }
    },
    resume: () => {
      const p = current();
      if (p.pid !== undefined && p.exitCode === null) process.kill(p.pid, 'SIGCONT');
    },
  };
}

/**
 * SIGSTOP takes effect per thread, asynchronously: a request sent right after kill() can still be
 * answered by a thread that has not stopped yet. Wait (up to 2 s) until every thread of `pid`
 * is in state T (stopped) or gone.
 */
function waitAllThreadsStopped(pid: number): void {
  const end = Date.now() + 2000;
  const stopped = (): boolean => {
    try {
      return readdirSync(`/proc/${pid}/task`).every((tid) => {
        try {
          // "pid (comm) S ...": the state follows the last ')'.
          const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
          const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
          return state === 'T' || state === 't' || state === 'Z' || state === 'X';
        } catch {
          return true; // thread gone
        }
      });
    } catch {
      return true; // process gone
    }
  };
  while (!stopped() && Date.now() < end) {
    const until = Date.now() + 5;
    while (Date.now() < until) {
      /* spin briefly: this is a test helper and the wait is a few ms */
    }
  }
}
