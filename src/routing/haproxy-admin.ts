// HAProxy runtime API (the stats socket, level admin) and the pure plan of what to tell it when
// the coordinator's view changes. One connection per command (non-interactive mode: HAProxy
// answers and closes). Commands used (HAProxy 2.6 management guide, section 9.3):
//   show servers state [<backend>]
//   set server <backend>/<server> state ready|drain|maint   (propagates to tracking servers)
//   set server <backend>/<server> health up|stopping|down   (overrides checks until the next ones)
//   shutdown sessions server <backend>/<server>
import { createConnection } from 'node:net';
import { CommandFailedError, TimeoutError, errorMessage } from '../domain/errors.js';
import type { MemberName } from '../domain/types.js';
import { RO_PROXY, RW_PROXY, type RoutingMember } from './routing-types.js';

/** One server line of `show servers state` (format version 1). */
export interface HaproxyServerState {
  backend: string;
  server: string;
  addr: string;
  port: number;
  /** 0 stopped (down), 1 starting, 2 running (up), 3 stopping. */
  opState: number;
  /** Bit mask: 0x01 forced maint, 0x02 maint inherited from a tracked server, 0x08 forced drain, ... */
  adminState: number;
  checkResult: number;
}

export const ADMIN_FORCED_MAINT = 0x01;
export const ADMIN_INHERITED_MAINT = 0x02;
export const OP_RUNNING = 2;

export function isUp(s: HaproxyServerState): boolean {
  return s.opState === OP_RUNNING && (s.adminState & (ADMIN_FORCED_MAINT | ADMIN_INHERITED_MAINT)) === 0;
}

/** Parse `show servers state` output (header line names the columns). */
export function parseServersState(text: string): HaproxyServerState[] {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const header = lines.find((l) => l.startsWith('# be_id'));
  if (lines[0] !== '1' || header === undefined) throw new CommandFailedError(`unexpected 'show servers state' output: ${text.slice(0, 200)}`);
  const cols = header.slice(2).split(/\s+/);
  const idx = (name: string) => {
    const i = cols.indexOf(name);
    if (i < 0) throw new CommandFailedError(`'show servers state' lacks column ${name}`);
    return i;
  };
  const [be, srv, addr, op, admin, port, res] = ['be_name', 'srv_name', 'srv_addr', 'srv_op_state', 'srv_admin_state', 'srv_port', 'srv_check_result'].map(idx) as number[];
  return lines
    .filter((l) => !l.startsWith('#') && l !== '1')
    .map((l) => {
      const f = l.split(/\s+/);
      return {
        backend: f[be as number] ?? '',
        server: f[srv as number] ?? '',
        addr: f[addr as number] ?? '',
        port: Number(f[port as number]),
        opState: Number(f[op as number]),
        adminState: Number(f[admin as number]),
        checkResult: Number(f[res as number]),
      };
    });
}

export interface RoutingTarget {
  /** The view's primary (null before bootstrap). */
  primary: MemberName | null;
  /**
   * The primary is promoted (its agent reports it out of recovery): force its rw health up
   * now instead of waiting `rise` checks. While false it is only taken out of maint.
   */
  primaryReady: boolean;
}

export interface HaproxyPlan {
  commands: string[];
  reason: string;
}

/**
 * Runtime commands that make HAProxy follow the view at once: rw/<primary> ready (health up
 * once promoted), every other rw server in maint with its sessions shut down (at most one
 * writable backend, even if a stale check would say otherwise); ro/<primary> in maint (it no
 * longer is a replica), the other ro servers out of maint so their /replica checks decide.
 * Backup servers track rw and follow by themselves. Idempotent: only differences produce
 * commands. With no primary in the view nothing is forced and the checks decide.
 */
export function planHaproxyUpdate(target: RoutingTarget, members: RoutingMember[], current: HaproxyServerState[]): HaproxyPlan {
  if (target.primary === null) return { commands: [], reason: 'the view names no primary: health checks decide' };
  const p = target.primary;
  const state = (backend: string, server: string) => current.find((s) => s.backend === backend && s.server === server);
  const forcedMaint = (s: HaproxyServerState | undefined) => s !== undefined && (s.adminState & ADMIN_FORCED_MAINT) !== 0;
  const commands: string[] = [];
  const notes: string[] = [];
  const known = members.some((m) => m.name === p);
  for (const m of members) {
    const rw = state(RW_PROXY, m.name);
    const ro = state(RO_PROXY, m.name);
    if (rw === undefined || ro === undefined) {
      notes.push(`${m.name} is not configured in HAProxy`);
      continue;
    }
    if (m.name === p) {
      if (forcedMaint(rw)) commands.push(`set server ${RW_PROXY}/${m.name} state ready`);
      if (target.primaryReady && rw.opState !== OP_RUNNING) commands.push(`set server ${RW_PROXY}/${m.name} health up`);
      if (!forcedMaint(ro)) commands.push(`set server ${RO_PROXY}/${m.name} state maint`);
    } else {
      if (!forcedMaint(rw)) {
        commands.push(`set server ${RW_PROXY}/${m.name} state maint`, `shutdown sessions server ${RW_PROXY}/${m.name}`);
      }
      if (forcedMaint(ro)) commands.push(`set server ${RO_PROXY}/${m.name} state ready`);
    }
  }
  const head = known
    ? `rw -> ${p}${target.primaryReady ? '' : ' (not promoted yet: its checks bring it up)'}`
    : `the view's primary ${p} is not a routed member: every rw server in maint`;
  const tail = commands.length === 0 ? '; HAProxy already agrees' : '';
  return { commands, reason: [head, ...notes].join('; ') + tail };
}

export interface HaproxyAdminOptions {
  timeoutMs?: number;
}

export class HaproxyAdmin {
  constructor(readonly socketPath: string, private readonly options: HaproxyAdminOptions = {}) {}

  /** Send one command, return HAProxy's whole answer. */
  command(cmd: string): Promise<string> {
    if (/[\n;]/.test(cmd)) return Promise.reject(new CommandFailedError(`refusing a multi-command line: ${JSON.stringify(cmd)}`));
    const timeoutMs = this.options.timeoutMs ?? 2000;
    return new Promise((resolve, reject) => {
      const sock = createConnection({ path: this.socketPath });
      let out = '';
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new TimeoutError(`HAProxy runtime API did not answer "${cmd}" within ${timeoutMs} ms`));
      }, timeoutMs);
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        out += d;
      });
      sock.once('error', (e) => {
        clearTimeout(timer);
        reject(new CommandFailedError(`HAProxy runtime API ${this.socketPath}: ${errorMessage(e)}`, { cause: e }));
      });
      sock.once('close', () => {
        clearTimeout(timer);
        resolve(out);
      });
      sock.once('connect', () => sock.write(`${cmd}\n`));
    });
  }

  /** A command that answers nothing on success (set/shutdown); any text is an error. */
  async execute(cmd: string): Promise<void> {
    const answer = (await this.command(cmd)).trim();
    if (answer !== '') throw new CommandFailedError(`HAProxy rejected "${cmd}": ${answer}`);
  }

  async showServersState(backend?: string): Promise<HaproxyServerState[]> {
    return parseServersState(await this.command(backend ? `show servers state ${backend}` : 'show servers state'));
  }

  async setServerState(backend: string, server: string, state: 'ready' | 'drain' | 'maint'): Promise<void> {
    await this.execute(`set server ${backend}/${server} state ${state}`);
  }

  async setServerHealth(backend: string, server: string, health: 'up' | 'stopping' | 'down'): Promise<void> {
    await this.execute(`set server ${backend}/${server} health ${health}`);
  }

  async shutdownSessions(backend: string, server: string): Promise<void> {
    await this.execute(`shutdown sessions server ${backend}/${server}`);
  }

  /** Read the current state, plan, apply in order. Returns the plan that was applied. */
  async follow(target: RoutingTarget, members: RoutingMember[]): Promise<HaproxyPlan> {
    const plan = planHaproxyUpdate(target, members, await this.showServersState());
    for (const c of plan.commands) await this.execute(c);
    return plan;
  }
}
