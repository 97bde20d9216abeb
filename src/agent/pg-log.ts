// What a standby's own postgres log says that its SQL views do not (pure).

/**
 * Did this standby's newest attempt to stream fail because the primary has already removed the
 * WAL it asks for? Reads its postgres log from the end: the first streaming-related line found
 * decides ("requested WAL segment ... has already been removed": yes; a "started streaming"
 * that no error followed, or a server start: no). Such a standby can never catch up by
 * streaming (e.g. after a pg_rewind whose divergence point the source has recycled since).
 * Members restore no WAL from an archive (no restore_command) today; once they do, this must
 * also ask whether recovery still progresses from the archive before a re-clone is chosen.
 */
export function walRemovedOnUpstream(logTail: string): boolean {
  const lines = logTail.split('\n');
  for (let k = lines.length - 1; k >= 0; k--) {
    const l = lines[k]!;
    if (/requested WAL segment \S+ has already been removed/.test(l)) return true;
    if (/started streaming WAL from primary|starting PostgreSQL|database system is ready/.test(l)) return false;
  }
  return false;
}
