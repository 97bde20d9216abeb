// The OS user postgres runs as, and whether it can reach a directory.
import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidInputError } from '../domain/errors.js';

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  /** Primary and supplementary group ids. */
  groups: number[];
}

export function lookupOsUser(name: string): OsUser {
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':'));
  const row = passwd.find((f) => f[0] === name);
  if (!row) throw new InvalidInputError(`OS user '${name}' does not exist (install postgresql-15: scripts/setup.sh)`);
  const uid = Number(row[2]);
  const gid = Number(row[3]);
  const groups = new Set<number>([gid]);
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const f = line.split(':');
      if ((f[3] ?? '').split(',').includes(name)) groups.add(Number(f[2]));
    }
  } catch {
    // no /etc/group: primary group only
  }
  return { name, uid, gid, groups: [...groups] };
}

/** Can `user` search (x) a directory with this owner and mode? */
export function canTraverse(user: OsUser, st: { uid: number; gid: number; mode: number }): boolean {
  if (user.uid === 0) return true;
  if (st.uid === user.uid) return (st.mode & 0o100) !== 0;
  if (user.groups.includes(st.gid)) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/**
 * Every existing ancestor of dir (and dir itself if it exists) must be traversable by user;
 * missing parts will be created 0755 and are fine.
 */
export function checkTraversable(dir: string, user: OsUser): void {
  const chain: string[] = [];
  for (let p = dir; ; p = dirname(p)) {
    chain.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of chain) {
    let st;
    try {
      st = statSync(p);
    } catch {
      return; // this part and everything below it will be created by us
    }
    if (!st.isDirectory()) throw new InvalidInputError(`${p} is not a directory`);
    if (!canTraverse(user, st)) {
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      throw new InvalidInputError(
        `the '${user.name}' user cannot reach ${dir}: ${p} has mode ${mode} (needs o+x); ` +
          'choose a directory such as /tmp/ballast or /var/lib/ballast',
      );
    }
  }
}
