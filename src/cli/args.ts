// Validation of command-line values (pure: throws InvalidInputError, touches nothing).
import { isAbsolute, normalize } from 'node:path';
import { InvalidInputError } from '../domain/errors.js';
import { NAME_PATTERN } from '../domain/types.js';
import type { ReadPoolFlags } from '../local/prepare.js';

export function parseDir(value: string | undefined, flag = '--dir'): string {
  if (value === undefined || value === '') throw new InvalidInputError(`${flag} is required`);
  if (!isAbsolute(value)) {
    throw new InvalidInputError(`${flag} must be an absolute path (got ${JSON.stringify(value)}), e.g. /tmp/ballast or /var/lib/ballast`);
  }
  if (value.includes('\0')) throw new InvalidInputError(`${flag} contains a NUL byte`);
  const n = normalize(value);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

export function parseIntArg(flag: string, value: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(value)) throw new InvalidInputError(`${flag} must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`);
  const n = Number(value);
  if (n < min || n > max) throw new InvalidInputError(`${flag} must be from ${min} to ${max} (got ${n})`);
  return n;
}

export function parseName(flag: string, value: string): string {
  if (!NAME_PATTERN.test(value)) {
    throw new InvalidInputError(`${flag} ${JSON.stringify(value)} is not a valid name: use a lowercase letter, then lowercase letters, digits or _ (at most 31)`);
  }
  return value;
}

export function parseEtcdUrls(value: string): string[] {
  const urls = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (urls.length === 0) throw new InvalidInputError('--etcd needs at least one URL');
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new InvalidInputError(`--etcd: ${JSON.stringify(u)} is not a URL (e.g. http://127.0.0.1:2379)`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InvalidInputError(`--etcd: ${u} must be http:// or https://`);
  }
  return urls;
}

export interface UpArgs {
  dir: string;
  members?: number;
  cluster?: string;
  detach: boolean;
  readPool: ReadPoolFlags;
}

/** A limit flag: a whole number within [min, max], or `none` for no limit. */
export function parseLimitArg(flag: string, value: string, min: number, max: number): number | null {
  if (value === 'none') return null;
  if (!/^[0-9]+$/.test(value)) throw new InvalidInputError(`${flag} must be a whole number from ${min} to ${max} or "none" (got ${JSON.stringify(value)})`);
  return parseIntArg(flag, value, min, max);
}

export function parseReadPoolFlags(o: { maxLagMs?: string; maxLagBytes?: string; readFallback?: string }): ReadPoolFlags {
  const out: ReadPoolFlags = {};
  if (o.maxLagMs !== undefined) out.maxLagMs = parseLimitArg('--max-lag-ms', o.maxLagMs, 0, 86_400_000);
  if (o.maxLagBytes !== undefined) out.maxLagBytes = parseLimitArg('--max-lag-bytes', o.maxLagBytes, 0, 1 << 30 /* 1 GiB */);
  if (o.readFallback !== undefined) {
    if (o.readFallback !== 'primary' && o.readFallback !== 'refuse') {
      throw new InvalidInputError(`--read-fallback must be "primary" (read from the primary when no replica is within the limits) or "refuse" (got ${JSON.stringify(o.readFallback)})`);
    }
    out.readFallback = o.readFallback;
  }
  return out;
}

export function parseUpArgs(o: { dir?: string; members?: string; cluster?: string; detach?: boolean; maxLagMs?: string; maxLagBytes?: string; readFallback?: string }): UpArgs {
  return {
    readPool: parseReadPoolFlags(o),
    dir: parseDir(o.dir),
    members: o.members === undefined ? undefined : parseIntArg('--members', o.members, 1, 9),
    cluster: o.cluster === undefined ? undefined : parseName('--cluster', o.cluster),
    detach: o.detach === true,
  };
}
