// SCRAM-SHA-256 verifiers as PostgreSQL stores them in pg_authid.rolpassword (RFC 5802/7677):
//   SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>
// Role passwords are sent to postgres in this form, never in plaintext.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;

export interface ScramKeys {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/**
 * Password normalisation. PostgreSQL applies SASLprep; for ASCII passwords that is the
 * identity. For others we apply NFKC and the non-ASCII-space mapping (the parts of SASLprep
 * that matter in practice); prohibited-character checks are not implemented.
 */
export function normalizePassword(password: string): string {
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  return password
    .replace(/[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/g, ' ')
    .replace(/[\u00ad\u034f\u1806\u180b-\u180d\u200c\u200d\u2060\ufe00-\ufe0f\ufeff]/g, '')
    .normalize('NFKC');
}

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export function deriveScramKeys(password: string, salt: Buffer, iterations = SCRAM_ITERATIONS): ScramKeys {
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error('SCRAM iterations must be a positive integer');
  if (salt.length === 0) throw new Error('SCRAM salt must not be empty');
  const salted = pbkdf2Sync(Buffer.from(normalizePassword(password), 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return {
    iterations,
    salt,
    storedKey: createHash('sha256').update(clientKey).digest(),
    serverKey: hmac(salted, 'Server Key'),
  };
}

export function formatScramVerifier(k: ScramKeys): string {
  return `SCRAM-SHA-256$${k.iterations}:${k.salt.toString('base64')}$${k.storedKey.toString('base64')}:${k.serverKey.toString('base64')}`;
}

/** A fresh verifier (random salt unless one is given, e.g. for test vectors). */
export function scramVerifier(password: string, opts: { salt?: Buffer; iterations?: number } = {}): string {
  return formatScramVerifier(deriveScramKeys(password, opts.salt ?? randomBytes(SALT_BYTES), opts.iterations));
}

const VERIFIER_RE = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/;

/** Parse a stored verifier; null when it is not a SCRAM-SHA-256 verifier (e.g. md5 or null). */
export function parseScramVerifier(text: string | null): ScramKeys | null {
  if (text === null) return null;
  const m = VERIFIER_RE.exec(text);
  if (!m) return null;
  return {
    iterations: Number(m[1]),
    salt: Buffer.from(m[2] as string, 'base64'),
    storedKey: Buffer.from(m[3] as string, 'base64'),
    serverKey: Buffer.from(m[4] as string, 'base64'),
  };
}

/** True when `stored` is a SCRAM verifier of `password` (recomputed with the stored salt). */
export function scramVerifierMatches(stored: string | null, password: string): boolean {
  const keys = parseScramVerifier(stored);
  if (keys === null) return false;
  const again = deriveScramKeys(password, keys.salt, keys.iterations);
  return (
    again.storedKey.length === keys.storedKey.length &&
    timingSafeEqual(again.storedKey, keys.storedKey) &&
    timingSafeEqual(again.serverKey, keys.serverKey)
  );
}
