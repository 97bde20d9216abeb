// Run PostgreSQL binaries as the unprivileged OS user. Postgres refuses to run as root, so
// when the agent is root every binary gets the uid/gid of `osUser`; otherwise it runs as self.
// Secrets never go to argv or env: only file paths (PGPASSFILE) do. Captured output can be
// scrubbed of known secret values before it reaches an error message.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { CommandFailedError, TimeoutError } from '../domain/errors.js';

export interface OsIdentity {
  user: string;
  uid: number;
  gid: number;
  home: string;
}

/** Look an OS user up in /etc/passwd, falling back to `id` (NSS users). */
export function lookupOsUser(user: string): OsIdentity {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === user && f.length >= 7) {
        return { user, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' };
      }
    }
  } catch {
    // fall through to id(1)
  }
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    return { user, uid, gid, home: '/' };
  } catch (e) {
    throw new CommandFailedError(`OS user ${user} not found`, { cause: e });
  }
}

/** Identity to switch to: the OS user when running as root, null (run as self) otherwise. */
export function resolveRunIdentity(osUser: string): OsIdentity | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  return lookupOsUser(osUser);
}

/** A clean environment: nothing inherited except PATH (no stray PGPASSWORD and the like). */
export function childEnv(identity: OsIdentity | null, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: identity?.home ?? process.env.HOME ?? '/',
    LC_ALL: 'C',
    LANG: 'C',
    TZ: 'UTC',
    ...extra,
  };
}

export interface RunOptions {
  identity: OsIdentity | null;
  timeoutMs: number;
  env?: Record<string, string>;
  cwd?: string;
  /** Called for every output line (stdout and stderr; \r also ends a line, for -P progress). */
  onLine?: (line: string) => void;
  /** Values to scrub from captured output before it is returned or put in an error. */
  redact?: string[];
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

const KEEP_BYTES = 64 * 1024;

export function scrub(text: string, secrets: string[] = []): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('[redacted]');
  return out;
}

/** Last `lines` non-empty lines of some output. */
export function tail(text: string, lines = 15): string {
  return text
    .split(/\r?\n|\r/)
    .filter((l) => l.trim() !== '')
    .slice(-lines)
    .join('\n');
}

/** Run to completion; rejects with CommandFailedError (exit != 0) or TimeoutError. */
export function runCommand(bin: string, args: string[], opts: RunOptions): Promise<RunResult> {
  const tool = basename(bin);
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let partial = '';
    let timedOut = false;
    const child = spawn(bin, args, {
      cwd: opts.cwd ?? '/',
      env: childEnv(opts.identity, opts.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.identity ? { uid: opts.identity.uid, gid: opts.identity.gid } : {}),
    });
    const onData = (which: 'out' | 'err') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (which === 'out') stdout = (stdout + text).slice(-KEEP_BYTES);
      else stderr = (stderr + text).slice(-KEEP_BYTES);
      if (opts.onLine) {
        const parts = (partial + text).split(/\r\n|\r|\n/);
        partial = parts.pop() ?? '';
        for (const p of parts) if (p.trim() !== '') opts.onLine(scrub(p, opts.redact));
      }
    };
    child.stdout.on('data', onData('out'));
    child.stderr.on('data', onData('err'));
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 2000);
    }, opts.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      reject(new CommandFailedError(`cannot run ${tool}: ${e.message}`, { cause: e }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      if (opts.onLine && partial.trim() !== '') opts.onLine(scrub(partial, opts.redact));
      const out = { stdout: scrub(stdout, opts.redact), stderr: scrub(stderr, opts.redact) };
      const detail = tail(out.stderr) || tail(out.stdout);
      if (timedOut) {
        reject(new TimeoutError(`${tool} did not finish within ${opts.timeoutMs} ms${detail ? `:\n${detail}` : ''}`));
      } else if (code !== 0) {
        const how = signal ? `signal ${signal}` : `exit ${code}`;
        reject(new CommandFailedError(`${tool} failed (${how})${detail ? `:\n${detail}` : ''}`));
      } else {
        resolve(out);
      }
    });
  });
}

export interface DetachedOptions {
  identity: OsIdentity | null;
  /** stdout and stderr are appended here. */
  logPath: string;
  cwd: string;
  env?: Record<string, string>;
}

/**
 * Spawn a long-running process in its own session, output appended to logPath, unref'd so it
 * outlives the agent. The caller may listen to 'exit' while the agent lives.
 */
export function spawnDetached(bin: string, args: string[], opts: DetachedOptions): ChildProcess {
  const fd = openSync(opts.logPath, 'a', 0o600);
  try {
    const child = spawn(bin, args, {
      cwd: opts.cwd,
      env: childEnv(opts.identity, opts.env),
      detached: true,
      stdio: ['ignore', fd, fd],
      ...(opts.identity ? { uid: opts.identity.uid, gid: opts.identity.gid } : {}),
    });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}
