// Structured logs (pino, JSON lines on stderr). Never pass secrets to a logger.
import { pino, destination, type Logger } from 'pino';

export type { Logger };

export function createLogger(component: string, extra: Record<string, unknown> = {}): Logger {
  return pino({
    level: process.env.BALLAST_LOG_LEVEL ?? 'info',
    base: { component, pid: process.pid, ...extra },
    redact: { paths: ['*.password', '*.secrets', 'password', 'secrets'], censor: '[redacted]' },
  }, destination(2));
}
