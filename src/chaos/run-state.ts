// DIR/chaos-state.json: everything one chaos run made on this machine (network namespaces,
// mounts, processes), so teardown, also a later `ballast chaos cleanup --dir`, removes exactly
// that. Every item is recorded *before* it is made (intent first), so a crash between the two
// leaves at most an entry whose thing does not exist, which cleanup skips.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { InvalidInputError } from '../domain/errors.js';
import { writeFileAtomic } from '../local/state.js';

const procRef = z.object({ pid: z.number().int().positive(), startTime: z.string().min(1) }).strict();

export const runStateSchema = z
  .object({
    version: z.literal(1),
    /** Random per-run id, the prefix of every name this run gives to a system object. */
    runId: z.string().regex(/^[a-z0-9]{6}$/),
    dir: z.string().startsWith('/'),
    createdAt: z.number(),
    /** Network namespaces (names), in creation order. */
    namespaces: z.array(z.string()),
    /** Mount points (absolute paths inside dir). */
    mounts: z.array(z.string().startsWith('/')),
    /** Processes started by the harness (key: "agent pg1", "etcd e2", ...), the current incarnation. */
    procs: z.record(z.string(), procRef),
  })
  .strict();

export type RunState = z.infer<typeof runStateSchema>;
export type ProcRefLike = z.infer<typeof procRef>;

export const STATE_FILE = 'chaos-state.json';

export function statePath(dir: string): string {
  return join(dir, STATE_FILE);
}

export function readRunState(dir: string): RunState | null {
  const path = statePath(dir);
  if (!existsSync(path)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new InvalidInputError(`${path} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const r = runStateSchema.safeParse(raw);
  if (!r.success) throw new InvalidInputError(`${path} is damaged: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** The run's state, kept in memory and written through (0600, atomic) on every change. */
export class RunRecord {
  constructor(readonly state: RunState) {}

  static create(dir: string, runId: string): RunRecord {
    const rec = new RunRecord({ version: 1, runId, dir, createdAt: Date.now(), namespaces: [], mounts: [], procs: {} });
    rec.save();
    return rec;
  }

  save(): void {
    writeFileAtomic(statePath(this.state.dir), `${JSON.stringify(this.state, null, 2)}\n`, 0o600);
  }

  addNamespace(ns: string): void {
    if (!this.state.namespaces.includes(ns)) this.state.namespaces.push(ns);
    this.save();
  }

  removeNamespace(ns: string): void {
    this.state.namespaces = this.state.namespaces.filter((n) => n !== ns);
    this.save();
  }

  addMount(path: string): void {
    if (!this.state.mounts.includes(path)) this.state.mounts.push(path);
    this.save();
  }

  removeMount(path: string): void {
    this.state.mounts = this.state.mounts.filter((m) => m !== path);
    this.save();
  }

  setProc(key: string, ref: ProcRefLike | null): void {
    if (ref) this.state.procs[key] = ref;
    else delete this.state.procs[key];
    this.save();
  }
}
