// Table-driven test of what the agent reads from a standby's postgres log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { walRemovedOnUpstream } from '../../src/agent/pg-log.js';

test('walRemovedOnUpstream: the newest streaming attempt in the log decides', () => {
  const removed = '2026-12-06 02:54:44.627 UTC [22035] FATAL:  could not receive data from WAL stream: ERROR:  requested WAL segment 0000002B000000000000001E has already been removed';
  const started = '2026-12-06 02:54:44.626 UTC [22035] LOG:  started streaming WAL from primary at 0/1E000000 on timeline 42';
  const boot = '2026-12-06 02:54:44.423 UTC [22018] LOG:  starting PostgreSQL 15.18 (Debian 15.18-0+deb12u1)';
  const noise = '2026-12-06 02:54:44.700 UTC [22040] FATAL:  the database system is not yet accepting connections';
  const table: [string, string[], boolean][] = [
    ['attempt failed: WAL removed', [boot, started, removed, noise], true],
    ['removed earlier, then streaming again', [started, removed, started, noise], false],
    ['removed before a restart of postgres', [removed, boot, noise], false],
    ['nothing about streaming', [noise, noise], false],
    ['empty log', [], false],
  ];
  for (const [name, lines, want] of table) assert.equal(walRemovedOnUpstream(lines.join('\n')), want, name);
});
