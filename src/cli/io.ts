// Output and errors of the CLI in one place: results on stdout (one JSON document with
// --json), progress and messages on stderr, BallastError codes mapped to exit codes.
import { BallastError, toError } from '../domain/errors.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export function exitCodeFor(e: unknown): number {
  return e instanceof BallastError && e.code === 'INVALID_INPUT' ? EXIT_USAGE : EXIT_FAILED;
}

export function errorCodeOf(e: unknown): string {
  return e instanceof BallastError ? e.code : 'INTERNAL';
}

/** Print an error the one way the CLI does; returns the exit code. */
export function reportError(io: Io, e: unknown, json: boolean): number {
  const err = toError(e);
  io.err(`ballast: ${err.message}\n`);
  if (json) io.out(`${JSON.stringify({ error: { code: errorCodeOf(e), message: err.message } })}\n`);
  return exitCodeFor(e);
}

export function printJson(io: Io, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

/** Progress lines on stderr; repeats of the same line are suppressed. */
export function createProgress(io: Io): (line: string) => void {
  let last = '';
  return (line) => {
    if (line === last) return;
    last = line;
    io.err(`${line}\n`);
  };
}
