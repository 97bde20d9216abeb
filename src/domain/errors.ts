// Typed errors with stable codes. Loops map the class to a policy:
// StoreUnavailable -> keep going on last known state; PostgresUnavailable -> observe/restart;
// anything else -> fatal for the current step.

export type ErrorCode =
  | 'INVALID_INPUT'
  | 'STORE_UNAVAILABLE'
  | 'STORE_CONFLICT'
  | 'POSTGRES_UNAVAILABLE'
  | 'COMMAND_FAILED'
  | 'NOT_FOUND'
  | 'TIMEOUT'
  | 'INTERNAL';

export class BallastError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class InvalidInputError extends BallastError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_INPUT', message, options);
  }
}
export class StoreUnavailableError extends BallastError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_UNAVAILABLE', message, options);
  }
}
export class StoreConflictError extends BallastError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_CONFLICT', message, options);
  }
}
export class PostgresUnavailableError extends BallastError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('POSTGRES_UNAVAILABLE', message, options);
  }
}
export class CommandFailedError extends BallastError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('COMMAND_FAILED', message, options);
  }
}
export class TimeoutError extends BallastError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TIMEOUT', message, options);
  }
}

/** Normalise anything thrown into an Error (for catch blocks). */
export function toError(e: unknown): Error {
  if (e instanceof Error) return e;
  return new Error(typeof e === 'string' ? e : JSON.stringify(e));
}

/** Wrap with a "while ..." message, keeping the cause. */
export function wrapError(e: unknown, while_: string): BallastError {
  const err = toError(e);
  if (err instanceof BallastError) {
    return new BallastError(err.code, `while ${while_}: ${err.message}`, { cause: err });
  }
  return new BallastError('INTERNAL', `while ${while_}: ${err.message}`, { cause: err });
}

export function errorMessage(e: unknown): string {
  return toError(e).message;
}

/** HTTP status for an error code, in one place. */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'INVALID_INPUT':
      return 400;
    case 'NOT_FOUND':
      return 404;
    case 'STORE_CONFLICT':
      return 409;
    case 'STORE_UNAVAILABLE':
    case 'POSTGRES_UNAVAILABLE':
      return 503;
    case 'TIMEOUT':
      return 504;
    default:
      return 500;
  }
}
