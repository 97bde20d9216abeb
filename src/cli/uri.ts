// libpq connection URIs.

export interface UriHost {
  host: string;
  port: number;
}

/** encodeURIComponent plus the sub-delimiters it leaves alone, so nothing in a password is special. */
export function encodeUriPart(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function hostPart(h: UriHost): string {
  const host = h.host.includes(':') ? `[${h.host}]` : h.host;
  return `${host}:${h.port}`;
}

/**
 * Multi-host read-write URI: libpq tries the hosts in order and keeps the one that accepts
 * writes, so it follows the primary across switchovers without a proxy.
 */
export function buildRwUri(user: string, password: string, hosts: UriHost[], database: string): string {
  if (hosts.length === 0) throw new Error('buildRwUri: no hosts');
  const auth = `${encodeUriPart(user)}:${encodeUriPart(password)}`;
  return `postgresql://${auth}@${hosts.map(hostPart).join(',')}/${encodeUriPart(database)}?target_session_attrs=read-write&connect_timeout=2`;
}

/** Single-host URI through the pooler (PgBouncer routes `<db>` to the primary, `<db>_ro` to standbys). */
export function buildPoolerUri(user: string, password: string, host: UriHost, database: string): string {
  return `postgresql://${encodeUriPart(user)}:${encodeUriPart(password)}@${hostPart(host)}/${encodeUriPart(database)}`;
}
