// Read-your-writes on replicas: ballast_wait_for_lsn(lsn, timeout_ms), installed by the primary's
// agent in the application database and in template1 (so databases created later have it).
//
// An application that must read its own write from the read-only endpoint takes the primary's
// WAL position after committing (`SELECT pg_current_wal_lsn()` on the rw endpoint), then, on
// the ro endpoint, in the same transaction as its read, calls
// `SELECT ballast_wait_for_lsn('<lsn>', 200)`: true once this replica has replayed that
// position (at once on a primary), false after the timeout, and then the application reads
// from the rw endpoint instead. docs/routing.md explains why this and not a routing rule.
import pg from 'pg';

/** Bumped when the body changes: the agent replaces an older version (COMMENT holds it). */
export const WAIT_FOR_LSN_VERSION = 'ballast-wait-for-lsn v1';

export const WAIT_FOR_LSN_SQL = `
CREATE OR REPLACE FUNCTION public.ballast_wait_for_lsn(target pg_lsn, timeout_ms integer DEFAULT 1000)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $body$
DECLARE
  deadline timestamptz := clock_timestamp() + make_interval(secs => greatest(timeout_ms, 0) / 1000.0);
BEGIN
  IF target IS NULL THEN
    RAISE EXCEPTION 'ballast_wait_for_lsn: target LSN must not be null';
  END IF;
  LOOP
    IF NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= target THEN
      RETURN true;
    END IF;
    IF clock_timestamp() >= deadline THEN
      RETURN false;
    END IF;
    PERFORM pg_sleep(0.002);
  END LOOP;
END
$body$;
COMMENT ON FUNCTION public.ballast_wait_for_lsn(pg_lsn, integer) IS '${WAIT_FOR_LSN_VERSION}';
`;

/**
 * Create or upgrade the function in the database `c` is connected to; a no-op (no write, so no
 * wait for a synchronous standby) when the current version is already there.
 */
export async function ensureWaitForLsn(c: pg.Client): Promise<boolean> {
  const cur = await c.query<{ v: string | null }>(
    `SELECT obj_description(p.oid, 'pg_proc') AS v FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public' AND p.proname = 'ballast_wait_for_lsn'`,
  );
  if (cur.rows.some((r) => r.v === WAIT_FOR_LSN_VERSION)) return false;
  await c.query('SET synchronous_commit = local');
  await c.query(WAIT_FOR_LSN_SQL);
  return true;
}
