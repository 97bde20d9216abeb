// Is a freshly started cluster ready to use? (pure; `up` polls it)
import type { ClusterSnapshot } from '../store/store.js';
import type { MemberName, MemberStatus } from '../domain/types.js';

export interface Readiness {
  ready: boolean;
  /** "waiting: primary pg1 running, pg2 cloning, pg3 starting" or "ready: ..." */
  line: string;
}

function memberWord(s: MemberStatus | undefined, primary: MemberName | null): string {
  if (!s) return 'starting';
  if (s.name === primary) return s.healthy && s.inRecovery === false ? 'running' : s.postgres;
  if (s.healthy && s.inRecovery === true && primary !== null && s.streamingFrom === primary) return 'streaming';
  return s.postgres === 'running' && s.healthy ? 'connecting' : s.postgres;
}

/**
 * Ready when the view has a primary, every member reports healthy, the primary is not in
 * recovery and every standby streams from the primary.
 */
export function assessReadiness(snapshot: ClusterSnapshot | null, names: MemberName[]): Readiness {
  if (!snapshot) return { ready: false, line: 'waiting: etcd' };
  const primary = snapshot.view?.primary ?? null;
  let ready = primary !== null;
  const parts: string[] = [];
  for (const name of names) {
    const s = snapshot.members.find((m) => m.name === name);
    const isPrimary = name === primary;
    const ok = s !== undefined && s.healthy && (isPrimary ? s.inRecovery === false : s.inRecovery === true && s.streamingFrom === primary);
    if (!ok) ready = false;
    parts.push(`${isPrimary ? 'primary ' : ''}${name} ${memberWord(s, primary)}`);
  }
  const head = primary === null ? (snapshot.coordinatorLeader ? 'no primary yet' : 'no coordinator leader yet') : '';
  const body = [head, ...parts].filter((p) => p !== '').join(', ');
  return { ready, line: `${ready ? 'ready' : 'waiting'}: ${body}` };
}
