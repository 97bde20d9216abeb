// The chaos network: one network namespace per "host", each with one veth link to a bridge
// inside a dedicated switch namespace. Nothing is made in the root namespace, so the private
// subnet below cannot collide with the machine's own networks, and parallel runs (each with
// its own switch) may use the same addresses. Every name starts with the run's random id.
//
//   blc-<id>-sw   switch namespace: bridge b<id>, veth v<id><i> (one per host)
//   blc-<id>-<h>  host namespace:   lo, h<id><i> with 10.213.0.<10+i>/24
//
// Link faults are nftables rules in the hosts' namespaces (table inet ballast_chaos), rebuilt
// atomically from the set of active cuts (renderChaosTable is pure). Traffic that stays inside
// a host (lo, its own address) is never cut, so the agent and the prober on an isolated host
// still reach their local postgres.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { CommandFailedError, errorMessage } from '../domain/errors.js';
import type { RunRecord } from './run-state.js';

export const SUBNET_PREFIX = '10.213.0';
export const NFT_TABLE = 'ballast_chaos';
const IP_BIN = '/usr/sbin/ip';
const NFT_BIN = '/usr/sbin/nft';

export interface NetHost {
  name: string;
  ns: string;
  ip: string;
}

export interface Network {
  runId: string;
  switchNs: string;
  hosts: NetHost[];
}

/** Packets from host `from` to host `to` are dropped. */
export interface Cut {
  from: string;
  to: string;
}

export function newRunId(): string {
  // 6 chars of [a-z0-9], first a letter (names stay valid identifiers everywhere).
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(6);
  let id = alphabet[bytes[0]! % 26]!;
  for (let i = 1; i < 6; i++) id += alphabet[bytes[i]! % alphabet.length]!;
  return id;
}

export function nsPrefix(runId: string): string {
  return `blc-${runId}-`;
}

export function planNetwork(runId: string, hostNames: string[]): Network {
  if (hostNames.length > 200) throw new Error('at most 200 hosts');
  return {
    runId,
    switchNs: `${nsPrefix(runId)}sw`,
    hosts: hostNames.map((name, i) => ({ name, ns: `${nsPrefix(runId)}${name}`, ip: `${SUBNET_PREFIX}.${10 + i}` })),
  };
}

/** Run a command; rejects with its stderr. */
export function run(bin: string, args: string[], input?: string, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, args, { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new CommandFailedError(`${bin} ${args.join(' ')} failed: ${(stderr || err.message).trim()}`, { cause: err }));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export function ip(args: string[]): Promise<string> {
  return run(IP_BIN, args);
}

export async function listNamespaces(): Promise<string[]> {
  const out = await ip(['netns', 'list']);
  return out.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((n) => n !== '');
}

/** Make the switch and every host namespace, recording each in `record` before making it. */
export async function createNetwork(net: Network, record: RunRecord): Promise<void> {
  const bridge = `b${net.runId}`;
  record.addNamespace(net.switchNs);
  await ip(['netns', 'add', net.switchNs]);
  await ip(['-n', net.switchNs, 'link', 'set', 'lo', 'up']);
  await ip(['-n', net.switchNs, 'link', 'add', bridge, 'type', 'bridge']);
  await ip(['-n', net.switchNs, 'link', 'set', bridge, 'up']);
  for (const [i, h] of net.hosts.entries()) {
    const sw = `v${net.runId}${i}`;
    const dev = `h${net.runId}${i}`;
    record.addNamespace(h.ns);
    await ip(['netns', 'add', h.ns]);
    await ip(['-n', h.ns, 'link', 'set', 'lo', 'up']);
    // Both ends are created straight inside namespaces of this run: nothing in the root one.
    await ip(['-n', net.switchNs, 'link', 'add', sw, 'type', 'veth', 'peer', 'name', dev, 'netns', h.ns]);
    await ip(['-n', net.switchNs, 'link', 'set', sw, 'master', bridge]);
    await ip(['-n', net.switchNs, 'link', 'set', sw, 'up']);
    await ip(['-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', dev]);
    await ip(['-n', h.ns, 'link', 'set', dev, 'up']);
  }
}

/** Pids still running inside a namespace (all of them started by this run: it made the namespace). */
export async function pidsIn(ns: string): Promise<number[]> {
  try {
    const out = await ip(['netns', 'pids', ns]);
    return out.split('\n').map((l) => Number(l.trim())).filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

/**
 * Delete the run's namespaces (only names with its prefix). Any process still inside one is
 * SIGKILLed first, by pid: a namespace keeps existing while a process lives in it.
 */
export async function destroyNamespaces(record: RunRecord, log: (l: string) => void): Promise<string[]> {
  const prefix = nsPrefix(record.state.runId);
  const existing = new Set(await listNamespaces());
  const failed: string[] = [];
  for (const ns of [...record.state.namespaces].reverse()) {
    if (!ns.startsWith(prefix)) {
      log(`not touching namespace ${ns}: not named by this run`);
      continue;
    }
    if (!existing.has(ns)) {
      record.removeNamespace(ns);
      continue;
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const pids = await pidsIn(ns);
      if (pids.length === 0) break;
      log(`killing ${pids.length} process(es) left in ${ns}: ${pids.join(' ')}`);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    try {
      await ip(['netns', 'del', ns]);
      record.removeNamespace(ns);
    } catch (e) {
      failed.push(`${ns}: ${errorMessage(e)}`);
    }
  }
  return failed;
}

/** The nft script that makes `host`'s chaos table match `cuts` (pure). */
export function renderChaosTable(host: string, ipOf: (h: string) => string, cuts: Cut[]): string {
  // "table X" then "delete table X": the delete never fails, and the new table replaces it in
  // one atomic transaction.
  const lines = [`table inet ${NFT_TABLE}`, `delete table inet ${NFT_TABLE}`];
  const outTo = [...new Set(cuts.filter((c) => c.from === host && c.to !== host).map((c) => ipOf(c.to)))].sort();
  const inFrom = [...new Set(cuts.filter((c) => c.to === host && c.from !== host).map((c) => ipOf(c.from)))].sort();
  if (outTo.length === 0 && inFrom.length === 0) return `${lines.join('\n')}\n`;
  lines.push(`table inet ${NFT_TABLE} {`);
  lines.push('  chain input {', '    type filter hook input priority -10; policy accept;', '    iif "lo" accept');
  if (inFrom.length > 0) lines.push(`    ip saddr { ${inFrom.join(', ')} } drop`);
  lines.push('  }');
  lines.push('  chain output {', '    type filter hook output priority -10; policy accept;', '    oif "lo" accept');
  if (outTo.length > 0) lines.push(`    ip daddr { ${outTo.join(', ')} } drop`);
  lines.push('  }', '}');
  return `${lines.join('\n')}\n`;
}

/** Cuts that isolate each of `hosts` from every other host (each other included), both ways, each link once. */
export function isolationCuts(hosts: string | string[], all: string[]): Cut[] {
  const group = typeof hosts === 'string' ? [hosts] : hosts;
  // Outbound from every isolated host; inbound only from hosts outside the group (a link inside
  // it is already cut outbound from both of its ends).
  return group.flatMap((h) => all.filter((o) => o !== h).flatMap((o) => (group.includes(o) ? [{ from: h, to: o }] : [{ from: h, to: o }, { from: o, to: h }])));
}

/** One-way loss: everything `from` sends to `to` (each of them) is dropped; the reverse flows. */
export function oneWayCuts(from: string, to: string[]): Cut[] {
  return to.filter((t) => t !== from).map((t) => ({ from, to: t }));
}

/** Partial partition: a and c cannot reach each other; everyone else reaches both. */
export function partitionCuts(a: string, c: string): Cut[] {
  return [{ from: a, to: c }, { from: c, to: a }];
}

/** What each host's chaos table was last set to (skip hosts whose rules do not change). */
const applied = new Map<string, string>();

/** Apply `cuts` (the complete set of active cuts) to every host's namespace whose rules change. */
export async function applyCuts(net: Network, cuts: Cut[]): Promise<void> {
  const ipOf = (h: string): string => {
    const found = net.hosts.find((x) => x.name === h);
    if (!found) throw new Error(`unknown host ${h}`);
    return found.ip;
  };
  await Promise.all(net.hosts.map(async (h) => {
    const script = renderChaosTable(h.name, ipOf, cuts);
    if (applied.get(h.ns) === script) return;
    applied.delete(h.ns);
    await run(IP_BIN, ['netns', 'exec', h.ns, NFT_BIN, '-f', '-'], script);
    applied.set(h.ns, script);
  }));
}

/** `ip netns exec NS argv...` as a detached child (own session), output appended to logFd. */
export function spawnInNamespace(ns: string, argv: string[], logFd: number, env: NodeJS.ProcessEnv = {}): ReturnType<typeof spawn> {
  return spawn(IP_BIN, ['netns', 'exec', ns, ...argv], { detached: true, stdio: ['ignore', logFd, logFd], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
}
