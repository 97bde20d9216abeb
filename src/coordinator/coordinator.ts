// Coordinator entry point (being written): campaigns for leadership and runs decide().
import type { CoordinatorConfig } from '../domain/config.js';

export interface CoordinatorHandle {
  stop(): Promise<void>;
  done: Promise<void>;
}

export async function startCoordinator(_config: CoordinatorConfig): Promise<CoordinatorHandle> {
  throw new Error('coordinator: not implemented yet');
}
