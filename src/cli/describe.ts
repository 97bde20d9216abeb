// Pure views of a cluster snapshot for `ballast status` (and the readiness wait of `up`).
import type { ClusterSnapshot } from '../store/store.js';
import type { ArchiveDescription, ArchiveStatus } from '../domain/archive.js';
import type { DisplayRole, MemberName, MemberStatus, PostgresState, RejoinRecord } from '../domain/types.js';
import { describeRouters, renderRouters, type RouterDescription } from './describe-routers.js';
import { renderTable } from './describe-table.js';

export { renderTable };

export interface KnownMember {
  name: MemberName;
  host: string;
  port: number;
}

export interface MemberDescription {
  name: MemberName;
  role: DisplayRole;
  host: string;
  port: number;
  timeline: number | null;
  lsn: string | null;
  lagBytes: number | null;
  lagMs: number | null;
  agentPid: number | null;
  postgresPid: number | null;
  /** Postgres lifecycle state, or null when the agent publishes nothing. */
  postgres: PostgresState | null;
  activity: string;
  rejoin: RejoinRecord | null;
  lastError: string | null;
  /** WAL archiving as this member reports it (null when unknown). */
  archive: ArchiveStatus | null;
}

export type { ArchiveDescription };

export interface ClusterDescription {
  cluster: string | null;
  coordinator: string | null;
  view: {
    generation: number;
    primary: MemberName | null;
    syncStandbys: MemberName[];
    syncConfirmed: MemberName[];
    unreplicated: boolean;
    switchover: { from: MemberName; to: MemberName; phase: string; forMs: number } | null;
    reason: string;
  } | null;
  members: MemberDescription[];
  /** Routers publishing to etcd (HAProxy + PgBouncer per client-side host). */
  routers: RouterDescription[];
  /** WAL archiving (null when no member reports archiving). */
  archive: ArchiveDescription | null;
}

const REBUILDING: PostgresState[] = ['initializing', 'cloning', 'rewinding'];

export function isRebuilding(s: MemberStatus): boolean {
  return REBUILDING.includes(s.postgres) || s.rejoin?.result === 'running';
}

/** The role `status` shows for one member (see DisplayRole). */
export function displayRole(status: MemberStatus | undefined, snapshot: ClusterSnapshot): DisplayRole {
  if (!status) return 'down';
  if (!status.healthy) return isRebuilding(status) ? 'starting' : 'down';
  const view = snapshot.view;
  if (!view || view.primary === null) return 'starting';
  if (status.name === view.primary) return status.inRecovery === false ? 'primary' : 'starting';
  const fromPrimary = status.inRecovery === true && status.streamingFrom === view.primary;
  if (fromPrimary && view.syncStandbys.includes(status.name)) return 'sync';
  if (fromPrimary) return 'async';
  return 'starting';
}

/** Members in the order: known (state.json) first, then any others the store reports, by name. */
function memberOrder(snapshot: ClusterSnapshot, known: KnownMember[]): MemberName[] {
  const names = known.map((k) => k.name);
  const extra = snapshot.members.map((m) => m.name).filter((n) => !names.includes(n)).sort();
  return [...names, ...extra];
}

export function describeCluster(snapshot: ClusterSnapshot, known: KnownMember[], nowMs: number): ClusterDescription {
  const v = snapshot.view;
  const members = memberOrder(snapshot, known).map((name): MemberDescription => {
    const s = snapshot.members.find((m) => m.name === name);
    const k = known.find((m) => m.name === name);
    return {
      name,
      role: displayRole(s, snapshot),
      host: s?.host ?? k?.host ?? '',
      port: s?.port ?? k?.port ?? 0,
      timeline: s?.timeline ?? null,
      lsn: s?.lsn ?? null,
      lagBytes: s?.lagBytes ?? null,
      lagMs: s?.lagMs ?? null,
      agentPid: s?.agentPid ?? null,
      postgresPid: s?.postgresPid ?? null,
      postgres: s?.postgres ?? null,
      activity: s ? s.activity : 'no status published (agent down or not started)',
      rejoin: s?.rejoin ?? null,
      lastError: s?.lastError ?? null,
      archive: s?.archive ?? null,
    };
  });
  return {
    cluster: snapshot.spec?.name ?? null,
    coordinator: snapshot.coordinatorLeader,
    view: v
      ? {
          generation: v.generation,
          primary: v.primary,
          syncStandbys: [...v.syncStandbys],
          syncConfirmed: [...v.syncConfirmed],
          unreplicated: v.unreplicated,
          switchover: v.switchover
            ? { from: v.switchover.from, to: v.switchover.to, phase: v.switchover.phase, forMs: Math.max(0, nowMs - v.switchover.startedAt) }
            : null,
          reason: v.reason,
        }
      : null,
    members,
    routers: describeRouters(snapshot.routers ?? [], nowMs),
    archive: describeArchive(members, v?.primary ?? null),
  };
}

export function describeArchive(members: MemberDescription[], primary: MemberName | null): ArchiveDescription | null {
  const archiving = members.filter((m) => m.archive !== null && m.archive.mode !== 'off');
  if (archiving.length === 0) return null;
  const p = members.find((m) => m.name === primary && m.role === 'primary')?.archive ?? null;
  // Only the primary pushes; a standby's check "fails" until the primary's copy is in the archive.
  const failingMembers = p?.failing ? [primary as MemberName] : [];
  return {
    mode: p?.mode ?? null,
    lagBytes: p?.lagBytes ?? null,
    lagSeconds: p?.lagSeconds ?? null,
    lastArchived: p?.lastArchived ?? null,
    lastArchivedAt: p?.lastArchivedAt == null ? null : new Date(p.lastArchivedAt).toISOString(),
    failing: p?.failing ?? false,
    failingMembers,
    repoReachable: p?.repoReachable ?? null,
    repoError: p?.repoError ?? null,
  };
}

function cell(v: string | number | null): string {
  return v === null || v === '' ? '-' : String(v);
}

/** Human form of describeCluster's result. */
export function renderDescription(d: ClusterDescription): string {
  const out: string[] = [];
  out.push(`cluster ${d.cluster ?? '(no spec)'}   coordinator leader: ${d.coordinator ?? 'none'}`);
  if (!d.view) out.push('view: none yet (no coordinator has bootstrapped the cluster)');
  else {
    const v = d.view;
    out.push(`view generation ${v.generation}: primary ${v.primary ?? 'none'}, sync [${v.syncStandbys.join(', ')}], confirmed [${v.syncConfirmed.join(', ')}]`);
    if (v.unreplicated) out.push('WARNING: UNREPLICATED - the primary runs without a synchronous standby; a failover now may lose data');
    if (v.switchover) {
      out.push(`SWITCHOVER IN PROGRESS: ${v.switchover.from} -> ${v.switchover.to}, phase ${v.switchover.phase}, for ${Math.round(v.switchover.forMs / 1000)} s`);
    }
    out.push(`reason: ${v.reason}`);
  }
  out.push('');
  const rows = d.members.map((m) => [
    m.name,
    m.role,
    `${m.host}:${m.port}`,
    cell(m.postgres),
    cell(m.timeline),
    cell(m.lsn),
    cell(m.lagBytes),
    cell(m.lagMs),
    cell(m.agentPid),
    cell(m.postgresPid),
    m.lastError ? `${m.activity} (error: ${m.lastError})` : m.activity,
  ]);
  out.push(renderTable(['NAME', 'ROLE', 'ADDRESS', 'POSTGRES', 'TL', 'LSN', 'LAG_B', 'LAG_MS', 'AGENT', 'PG_PID', 'ACTIVITY'], rows));
  out.push(...renderRouters(d.routers));
  if (d.archive) {
    const a = d.archive;
    out.push('');
    out.push(`WAL archive: last ${a.lastArchived ?? 'none'} at ${a.lastArchivedAt ?? '-'}, lag ${cell(a.lagBytes)} bytes / ${cell(a.lagSeconds)} s`
      + (a.failingMembers.length ? `; FAILING on ${a.failingMembers.join(', ')}${a.repoReachable === false ? ` (repository unreachable: ${a.repoError ?? '?'})` : ''} (see ballast events; writes continue, PITR is at risk)` : '; archiving ok'));
  }
  return `${out.join('\n')}\n`;
}
