// `ballast agent` and `ballast coordinator`: run one long-lived component until SIGTERM/SIGINT.
import { agentConfigSchema, coordinatorConfigSchema, loadJsonFile } from '../domain/config.js';
import { InvalidInputError } from '../domain/errors.js';
import { EXIT_FAILED, EXIT_OK, type Io } from './io.js';

interface Handle {
  stop(): Promise<void>;
  done: Promise<void>;
}

/** Resolves with the first SIGTERM/SIGINT. */
export function nextSignal(): { signal: Promise<NodeJS.Signals>; dispose(): void } {
  let onSignal: (s: NodeJS.Signals) => void = () => undefined;
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = resolve;
  });
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    signal,
    dispose: () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}

async function runUntilSignal(io: Io, what: string, start: () => Promise<Handle>): Promise<number> {
  const sig = nextSignal();
  try {
    const handle = await start();
    const first = await Promise.race([handle.done.then(() => 'done' as const), sig.signal]);
    if (first === 'done') {
      io.err(`ballast: ${what} stopped on its own\n`);
      return EXIT_FAILED;
    }
    await handle.stop();
    return EXIT_OK;
  } finally {
    sig.dispose();
  }
}

function requireConfig(file: string | undefined): string {
  if (file === undefined || file === '') throw new InvalidInputError('--config FILE is required');
  return file;
}

export async function agentCommand(io: Io, o: { config?: string }): Promise<number> {
  const config = loadJsonFile(agentConfigSchema, requireConfig(o.config), 'agent config');
  // Imported on demand: other commands neither load nor depend on the agent's modules.
  const { startAgent } = await import('../agent/agent.js');
  return runUntilSignal(io, `agent ${config.name}`, () => startAgent(config));
}

export async function coordinatorCommand(io: Io, o: { config?: string }): Promise<number> {
  const config = loadJsonFile(coordinatorConfigSchema, requireConfig(o.config), 'coordinator config');
  const { startCoordinator } = await import('../coordinator/coordinator.js');
  return runUntilSignal(io, `coordinator ${config.id}`, () => startCoordinator(config));
}

export async function routerCommand(io: Io, o: { config?: string }): Promise<number> {
  const { routerConfigSchema } = await import('../routing/router-config.js');
  const config = loadJsonFile(routerConfigSchema, requireConfig(o.config), 'router config');
  const { startRouter } = await import('../routing/router.js');
  return runUntilSignal(io, `router ${config.id}`, () => startRouter(config));
}
