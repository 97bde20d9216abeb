// Process configuration files (JSON) of the agent and the coordinator, validated with zod.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InvalidInputError } from './errors.js';
import { NAME_PATTERN } from './types.js';

const name = z.string().regex(NAME_PATTERN, 'must match ^[a-z][a-z0-9_]{0,30}$');
const port = z.number().int().min(1).max(65535);
const endpoint = z.string().url();

const absPath = z.string().regex(/^\/[A-Za-z0-9_./-]+$/, 'must be an absolute path of letters, digits, _ . / -');

/** The backup repository as members see it (see src/backup/render-pgbackrest.ts). */
export const backupRepoSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('local'), path: absPath }).strict(),
  z
    .object({ kind: z.literal('tls'), host: z.string().min(1), port, path: absPath, caFile: absPath, certFile: absPath, keyFile: absPath })
    .strict(),
  z.object({ kind: z.literal('s3'), path: absPath, options: z.record(z.string().regex(/^s3-[a-z0-9-]+$/), z.string().min(1)) }).strict(),
]);

export const backupSchema = z
  .object({
    /** pgBackRest stanza (one per cluster). */
    stanza: name,
    repo: backupRepoSchema,
    /** archive_timeout: a quiet primary switches WAL at least this often (the archive's RPO). */
    archiveTimeoutSec: z.number().int().min(1).max(3600).default(60),
    /** archive-push-queue-max: beyond this much unarchived WAL, pgBackRest drops WAL (breaks PITR, keeps the primary up). */
    pushQueueMax: z.string().regex(/^[1-9][0-9]*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$/).default('4GiB'),
    processMax: z.number().int().min(1).max(16).default(2),
  })
  .strict();
export type BackupConfig = z.infer<typeof backupSchema>;

export const agentConfigSchema = z
  .object({
    cluster: name,
    name: name,
    /** Address postgres listens on and others connect to. */
    host: z.string().min(1),
    port,
    /** Agent HTTP API (health endpoints). */
    apiHost: z.string().min(1),
    apiPort: port,
    /** Postgres data directory (created by initdb or pg_basebackup). */
    dataDir: z.string().startsWith('/'),
    /** Member working directory: socket, logs, passfile. Owned by the OS user. */
    runDir: z.string().startsWith('/'),
    pgBinDir: z.string().startsWith('/').default('/usr/lib/postgresql/15/bin'),
    etcd: z.array(endpoint).min(1),
    /** JSON file (mode 0600) with SecretsFile fields. */
    secretsFile: z.string().startsWith('/'),
    /** OS user postgres runs as when the agent is root. */
    osUser: z.string().min(1).default('postgres'),
    /** Extra postgresql.conf parameters. */
    pgParameters: z.record(z.string(), z.string()).default({}),
    /** WAL archiving and restore through pgBackRest (absent: no archiving). */
    backup: backupSchema.optional(),
  })
  .strict();
export type AgentConfig = z.infer<typeof agentConfigSchema>;

export const coordinatorConfigSchema = z
  .object({
    cluster: name,
    id: name,
    etcd: z.array(endpoint).min(1),
    /** Local deployment directory whose backup site scheduled backups use (absent: no scheduled backups). */
    backupDir: absPath.optional(),
  })
  .strict();
export type CoordinatorConfig = z.infer<typeof coordinatorConfigSchema>;

/** Secrets of one cluster; lives only in files of mode 0600, never in etcd or arguments. */
export const secretsSchema = z
  .object({
    superuserPassword: z.string().min(16),
    replicationPassword: z.string().min(16),
    appPassword: z.string().min(16),
    /**
     * PgBouncer console admin (never a PostgreSQL role). Optional: secrets files written before
     * routing existed lack it; `up` adds one, other readers derive it (poolerAdminPasswordOf).
     */
    poolerAdminPassword: z.string().min(16).optional(),
    /** pgBackRest repository cipher pass (aes-256-cbc). Optional: files from before backups lack it; `up` adds one. */
    repoCipherPass: z.string().min(16).optional(),
  })
  .strict();
export type Secrets = z.infer<typeof secretsSchema>;

/**
 * The pooler admin password: the stored one, else derived from the superuser password
 * (HMAC-SHA-256, so every router of the cluster derives the same one without a new file).
 */
export function poolerAdminPasswordOf(secrets: Secrets): string {
  return secrets.poolerAdminPassword ?? createHmac('sha256', secrets.superuserPassword).update('ballast pooler admin v1').digest('base64url');
}

export const SUPERUSER = 'postgres';
export const REPLICATION_USER = 'replicator';
export const APP_USER = 'app';
export const APP_DATABASE = 'app';

export function parseConfig<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, raw: unknown, what: string): T {
  const r = schema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new InvalidInputError(`invalid ${what}: ${problems}`);
  }
  return r.data;
}

export function loadJsonFile<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, path: string, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new InvalidInputError(`cannot read ${what} ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseConfig(schema, raw, `${what} ${path}`);
}
