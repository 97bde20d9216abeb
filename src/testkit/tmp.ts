// Temporary directories for tests that the unprivileged `postgres` OS user can traverse
// (mode 0755), so data and run directories owned by postgres can live inside them.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';

const ROOT = resolve(tmpdir());

export async function makeTempDir(prefix = 'ballast-'): Promise<string> {
  const dir = await mkdtemp(join(ROOT, prefix));
  await chmod(dir, 0o755);
  return dir;
}

/** Remove a directory made by makeTempDir (refuses anything outside the temp root). */
export async function removeTempDir(dir: string): Promise<void> {
  const abs = resolve(dir);
  if (!abs.startsWith(ROOT + sep) || abs === ROOT) throw new Error(`refusing to remove ${abs}: not under ${ROOT}`);
  await rm(abs, { recursive: true, force: true });
}
