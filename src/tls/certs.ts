// A Ballast certificate authority and the certificates it signs, made by driving Debian's
// `openssl` (no hand-written crypto). Keys are EC P-256, written by openssl straight to 0600
// files: a key never passes through a process argument, the environment or a log.
//
//   <dir>/ca.crt  ca.key (0600)          createCa
//   <dir>/<name>.crt  <name>.key (0600)  issueCert: serverAuth + clientAuth, SAN = DNS names and IPs
//
// The certificate file names are the contract used by pgBackRest's TLS server and clients
// (tls-server-*-file, repo1-host-*-file, pgN-host-*-file). Everything else that needs TLS later
// (etcd, PostgreSQL, PgBouncer, the agents' API) can take certificates from the same CA.
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../domain/errors.js';
import { runCommand } from '../agent/run-as.js';
import { writeFileAtomic } from '../local/state.js';

export const OPENSSL_BIN = process.env.BALLAST_OPENSSL_BIN ?? '/usr/bin/openssl';

export interface CaFiles {
  dir: string;
  certFile: string;
  keyFile: string;
}

export interface CertFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export interface CertRequest {
  /** File name stem and, unless `cn` is given, the certificate's CN (pgBackRest authorizes clients by CN). */
  name: string;
  cn?: string;
  dnsNames?: string[];
  ips?: string[];
  days?: number;
  /** Owner of the key and certificate (e.g. the postgres OS user); null: the caller. */
  owner?: { uid: number; gid: number } | null;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const DNS = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function caFilesOf(dir: string): CaFiles {
  return { dir, certFile: join(dir, 'ca.crt'), keyFile: join(dir, 'ca.key') };
}

export function certFilesOf(ca: CaFiles, name: string): CertFiles {
  return { certFile: join(ca.dir, `${name}.crt`), keyFile: join(ca.dir, `${name}.key`), caFile: ca.certFile };
}

/**
 * The x509v3 extensions of a leaf certificate (pure). An IP address is named twice, as an IP
 * and as a DNS name, because some TLS clients (pgBackRest 2.45 among them) compare the host they
 * were given only with the DNS entries of subjectAltName.
 */
export function leafExtensions(r: CertRequest): string {
  if (!NAME.test(r.name)) throw new InvalidInputError(`certificate name ${JSON.stringify(r.name)}: use lower-case letters, digits, '.', '_' or '-' (at most 63)`);
  const cn = r.cn ?? r.name;
  if (!NAME.test(cn)) throw new InvalidInputError(`certificate CN ${JSON.stringify(cn)}: use lower-case letters, digits, '.', '_' or '-' (at most 63)`);
  const dns = r.dnsNames ?? [];
  const ips = r.ips ?? [];
  for (const d of dns) if (!DNS.test(d)) throw new InvalidInputError(`certificate DNS name ${JSON.stringify(d)} is not a host name`);
  for (const ip of ips) if (!IPV4.test(ip)) throw new InvalidInputError(`certificate IP ${JSON.stringify(ip)} is not an IPv4 address`);
  const san = [...new Set([cn, ...dns, ...ips].filter((d) => DNS.test(d)))].map((d) => `DNS:${d}`).concat(ips.map((ip) => `IP:${ip}`));
  return [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth,clientAuth',
    `subjectAltName=${san.join(',')}`,
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid,issuer',
    '',
  ].join('\n');
}

function checkDays(days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new InvalidInputError(`certificate lifetime must be 1 to 36500 days (got ${days})`);
  return days;
}

async function openssl(args: string[]): Promise<void> {
  await runCommand(OPENSSL_BIN, args, { identity: null, timeoutMs: 30_000 });
}

/** A new EC P-256 private key, 0600 (openssl 3 writes it so; the chmod holds for older ones too). */
async function newKey(path: string): Promise<void> {
  rmSync(path, { force: true });
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
  chmodSync(path, 0o600);
}

function own(files: string[], owner: { uid: number; gid: number } | null | undefined): void {
  if (!owner) return;
  for (const f of files) chownSync(f, owner.uid, owner.gid);
}

/** A new CA in `dir` (refuses to replace one). */
export async function createCa(dir: string, opts: { cn: string; days?: number }): Promise<CaFiles> {
  const ca = caFilesOf(dir);
  if (existsSync(ca.keyFile) || existsSync(ca.certFile)) throw new InvalidInputError(`${dir} already holds a CA (ca.key / ca.crt)`);
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/.test(opts.cn)) throw new InvalidInputError(`CA name ${JSON.stringify(opts.cn)}: letters, digits, space, '.', '_' or '-'`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  await newKey(ca.keyFile);
  await openssl(['req', '-x509', '-new', '-key', ca.keyFile, '-sha256', '-days', String(checkDays(opts.days ?? 3650)), '-subj', `/CN=${opts.cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', ca.certFile]);
  return ca;
}

/** A key and a certificate signed by `ca` for `r` (replaces an older pair of that name). */
export async function issueCert(ca: CaFiles, r: CertRequest): Promise<CertFiles> {
  const ext = leafExtensions(r);
  const out = certFilesOf(ca, r.name);
  const csr = join(ca.dir, `${r.name}.csr`);
  const extFile = join(ca.dir, `${r.name}.ext`);
  try {
    await newKey(out.keyFile);
    await openssl(['req', '-new', '-key', out.keyFile, '-subj', `/CN=${r.cn ?? r.name}`, '-out', csr]);
    writeFileAtomic(extFile, ext, 0o644);
    await openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-sha256',
      '-days', String(checkDays(r.days ?? 825)), '-extfile', extFile, '-out', out.certFile]);
  } finally {
    rmSync(csr, { force: true });
    rmSync(extFile, { force: true });
  }
  own([out.keyFile, out.certFile], r.owner);
  return out;
}
