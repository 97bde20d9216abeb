// DIR/state.json: what `up` allocated (names, ports) and which pids run. Written atomically
// (tmp file + rename) with mode 0600; read with validation so a damaged file is a clear error.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { z } from 'zod';
import { InvalidInputError } from '../domain/errors.js';
import { NAME_PATTERN } from '../domain/types.js';

const name = z.string().regex(NAME_PATTERN);
const port = z.number().int().min(1).max(65535);
const procRef = z.object({ pid: z.number().int().positive(), startTime: z.string().min(1) }).strict();

export const deploymentStateSchema = z
  .object({
    version: z.literal(1),
    cluster: name,
    dir: z.string().startsWith('/'),
    createdAt: z.number(),
    etcd: z.object({ name, clientPort: port, peerPort: port, proc: procRef.nullable() }).strict(),
    members: z
      .array(z.object({ name, host: z.string().min(1), port, apiPort: port, proc: procRef.nullable() }).strict())
      .min(1)
      .max(9),
    coordinators: z.array(z.object({ id: name, proc: procRef.nullable() }).strict()),
    supervisor: procRef.nullable(),
    /** Loopback ports of the endpoints (HAProxy rw/ro, PgBouncer); absent in older state files. */
    routing: z
      .object({
        rwPort: port,
        roPort: port,
        poolerPort: port,
        /** Read pool settings from `up` flags (absent: the routing defaults). */
        maxLagMs: z.number().int().min(0).nullable().optional(),
        maxLagBytes: z.number().int().min(0).nullable().optional(),
        readFallback: z.enum(['primary', 'refuse']).optional(),
      })
      .strict()
      .optional(),
    /** WAL archiving and backups (absent in older state files: `up` adds it). */
    backup: z
      .object({
        stanza: name,
        archiveTimeoutSec: z.number().int().min(1).max(3600),
        retentionFull: z.number().int().min(1).max(100),
      })
      .strict()
      .optional(),
    /** Router processes (absent in older state files). */
    routers: z.array(z.object({ id: name, proc: procRef.nullable() }).strict()).optional(),
  })
  .strict();

export type DeploymentState = z.infer<typeof deploymentStateSchema>;
export type MemberEntry = DeploymentState['members'][number];

/** The state file, or null if there is none. Throws InvalidInputError if it is damaged. */
export function readState(path: string): DeploymentState | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InvalidInputError(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InvalidInputError(`${path} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const r = deploymentStateSchema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new InvalidInputError(`${path} is damaged: ${problems}`);
  }
  return r.data;
}

/** Write any file atomically with the given mode (tmp file in the same dir, fsync, rename). */
export function writeFileAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function writeState(path: string, state: DeploymentState): void {
  writeFileAtomic(path, `${JSON.stringify(deploymentStateSchema.parse(state), null, 2)}\n`, 0o600);
}

/** Read, change, write. Throws if the file vanished. */
export function updateState(path: string, change: (s: DeploymentState) => void): DeploymentState {
  const s = readState(path);
  if (!s) throw new InvalidInputError(`${path} is missing`);
  change(s);
  writeState(path, s);
  return s;
}
