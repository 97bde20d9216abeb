// Agent entry point (being written): supervises one postgres member. See README in this folder.
import type { AgentConfig } from '../domain/config.js';

export interface AgentHandle {
  /** Stop the agent loop and its HTTP server; postgres keeps running. */
  stop(): Promise<void>;
  done: Promise<void>;
}

export async function startAgent(_config: AgentConfig): Promise<AgentHandle> {
  throw new Error('agent: not implemented yet');
}
