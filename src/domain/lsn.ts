// PostgreSQL LSNs ("16/B374D848") as bigints for comparison and arithmetic.
import type { LsnText } from './types.js';

const LSN_RE = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function parseLsn(text: LsnText): bigint {
  const m = LSN_RE.exec(text);
  if (!m) throw new Error(`invalid LSN ${JSON.stringify(text)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(value: bigint): LsnText {
  const hi = (value >> 32n).toString(16).toUpperCase();
  const lo = (value & 0xffffffffn).toString(16).toUpperCase();
  return `${hi}/${lo}`;
}

/** Compare two LSNs; null sorts lowest. */
export function compareLsn(a: LsnText | null, b: LsnText | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  const d = parseLsn(a) - parseLsn(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

export function lsnGte(a: LsnText | null, b: LsnText | null): boolean {
  if (b === null) return true;
  if (a === null) return false;
  return parseLsn(a) >= parseLsn(b);
}

/** Bytes from `behind` to `ahead`, never negative; null if either is unknown. */
export function lsnDiff(ahead: LsnText | null, behind: LsnText | null): number | null {
  if (ahead === null || behind === null) return null;
  const d = parseLsn(ahead) - parseLsn(behind);
  return d > 0n ? Number(d) : 0;
}
