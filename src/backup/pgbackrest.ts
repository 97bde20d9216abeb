// Runs the real pgBackRest binary (Debian's /usr/bin/pgbackrest) as the postgres OS user with a
// Ballast-rendered config file, and turns its errors into Ballast's words. Secrets stay in the
// 0600 config file: never on the command line or in the environment; output is scrubbed.
import { BallastError, CommandFailedError, InvalidInputError } from '../domain/errors.js';
import { runCommand, type OsIdentity, type RunResult } from '../agent/run-as.js';

export const PGBACKREST_BIN = process.env.BALLAST_PGBACKREST_BIN ?? '/usr/bin/pgbackrest';

export interface PgBackRest {
  readonly stanza: string;
  readonly configFile: string;
  /** Run `pgbackrest --config=F --stanza=S <args>`; errors explained (see explainPgBackRestError). */
  run(args: string[], opts: { timeoutMs: number; onLine?: (line: string) => void }): Promise<RunResult>;
}

export function createPgBackRest(o: {
  stanza: string; configFile: string; identity: OsIdentity | null; redact: string[]; cwd?: string;
  /** Run pgBackRest through this argv prefix (e.g. `ip netns exec NS setpriv ... --`: another host, another user); identity must then be null. */
  wrap?: string[];
}): PgBackRest {
  const [bin, ...pre] = o.wrap?.length ? [...o.wrap, PGBACKREST_BIN] : [PGBACKREST_BIN];
  return {
    stanza: o.stanza,
    configFile: o.configFile,
    async run(args, opts) {
      try {
        return await runCommand(bin as string, [...pre, `--config=${o.configFile}`, `--stanza=${o.stanza}`, ...args], {
          identity: o.identity,
          timeoutMs: opts.timeoutMs,
          cwd: o.cwd ?? '/',
          redact: o.redact,
          ...(opts.onLine ? { onLine: opts.onLine } : {}),
        });
      } catch (e) {
        throw explainPgBackRestError(e, args[0] ?? 'pgbackrest');
      }
    },
  };
}

/** pgBackRest error codes Ballast explains (see pgBackRest's error list). */
const EXPLAINED: Record<string, (cmd: string) => string> = {
  '028': () => 'the backup repository belongs to another cluster (its system identifier differs from this cluster\'s); use an empty repository or this cluster\'s own',
  '044': () => 'the backup repository belongs to another cluster (its system identifier or PostgreSQL version differs from this cluster\'s)',
  '050': (cmd) => `another backup, expire or stanza operation is already running for this cluster; ${cmd} was not started`,
  '051': () => 'the repository holds no stanza for this cluster yet (archiving has not been set up)',
  '055': () => 'the backup repository cannot be read (is it reachable, and does the stanza exist?)',
  '075': () => 'no backup exists yet in the repository',
  '082': () => 'WAL needed to make the backup consistent was not archived in time: WAL archiving is failing (see ballast status and events)',
  '049': () => 'the backup repository\'s host cannot be reached (its pgBackRest server is down, or the network between them is)',
  '095': () => 'the backup host\'s TLS certificate does not name the address it was reached at',
  '105': () => 'the pgBackRest TLS server refused this host\'s certificate (not authorized for this stanza, or signed by another CA)',
};

/** The first line of pgBackRest's error and up to 3 indented lines that continue it (the cause), HINT lines left out. */
function errorText(message: string): { code: string; text: string } | null {
  const lines = message.split('\n');
  const i = lines.findIndex((l) => /ERROR: \[\d{3}\]: /.test(l));
  if (i < 0) return null;
  const m = /ERROR: \[(\d{3})\]: (.*)$/.exec(lines[i] as string)!;
  const more: string[] = [];
  for (const l of lines.slice(i + 1)) {
    if (!/^\s+\S/.test(l) || more.length >= 3) break;
    if (/^\s+HINT:/.test(l)) continue;
    more.push(l.trim());
  }
  return { code: m[1] as string, text: [(m[2] as string).trim(), ...more].map((t) => t.replace(/:$/, '')).join(': ') };
}

/** A CommandFailedError from pgBackRest, with its code explained in Ballast's words when known. */
export function explainPgBackRestError(e: unknown, cmd: string): BallastError {
  if (!(e instanceof BallastError)) return new CommandFailedError(`pgbackrest ${cmd}: ${String(e)}`, { cause: e });
  const m = errorText(e.message);
  if (!m) return new BallastError(e.code, `pgbackrest ${cmd}: ${e.message}`, { cause: e });
  const code = m.code;
  const explain = EXPLAINED[code];
  const text = explain ? `${explain(cmd)} (pgBackRest error ${code}: ${m.text})` : `pgbackrest ${cmd} failed: [${code}] ${m.text}`;
  return code === '050' ? new InvalidInputError(text, { cause: e }) : new CommandFailedError(text, { cause: e });
}
