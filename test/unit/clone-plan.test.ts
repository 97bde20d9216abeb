// Table-driven tests of how a standby is cloned (src/agent/clone-plan.ts): restore the newest
// backup with pgBackRest, or pg_basebackup, and why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackupRecord, StanzaInfo } from '../../src/backup/backup-info.js';
import {
  RESTORE_RETRY_AFTER_MS, basebackupMessage, basebackupReason, chooseRestoreBackup, planClone, restoreCloneArgs,
  restoredMessage, restoreFailedMessage, type CloneFacts, type RepoAnswer,
} from '../../src/agent/clone-plan.js';

const facts = (o: Partial<CloneFacts> = {}): CloneFacts => ({ archiving: true, now: 1_000_000, restoreFailedAt: null, restoredAt: null, streamingAt: 0, ...o });

const planCases: { name: string; f: CloneFacts; method: 'restore' | 'basebackup'; because?: RegExp | null }[] = [
  { name: 'no archiving: pg_basebackup, nothing to explain', f: facts({ archiving: false }), method: 'basebackup', because: null },
  { name: 'archiving, first clone: try a restore', f: facts(), method: 'restore' },
  { name: 'restored before and streamed since: restore again', f: facts({ restoredAt: 500_000, streamingAt: 600_000 }), method: 'restore' },
  { name: 'restored before and never streamed since: pg_basebackup', f: facts({ restoredAt: 500_000, streamingAt: 400_000 }), method: 'basebackup', because: /never caught up to streaming/ },
  { name: 'restored before, never streamed at all: pg_basebackup', f: facts({ restoredAt: 500_000 }), method: 'basebackup', because: /never caught up/ },
  { name: 'a restore failed a minute ago: pg_basebackup', f: facts({ restoreFailedAt: 940_000 }), method: 'basebackup', because: /restore from a backup failed 60 s ago/ },
  { name: 'a restore failed long ago: try again', f: facts({ restoreFailedAt: 1_000_000 - RESTORE_RETRY_AFTER_MS - 1 }), method: 'restore' },
  { name: 'no archiving wins over everything', f: facts({ archiving: false, restoredAt: 500_000, restoreFailedAt: 999_000 }), method: 'basebackup', because: null },
];

for (const c of planCases) {
  test(`planClone: ${c.name}`, () => {
    const p = planClone(c.f);
    assert.equal(p.method, c.method);
    if (p.method === 'basebackup' && c.because !== undefined) {
      if (c.because === null) assert.equal(p.because, null);
      else assert.match(p.because ?? '', c.because);
    }
  });
}

const backup = (id: string, stoppedAt: string, o: Partial<BackupRecord> = {}): BackupRecord => ({
  id, type: 'full', member: 'pg2', startLsn: '0/2000028', stopLsn: '0/2000100', startedAt: stoppedAt, stoppedAt,
  sizeBytes: 1, deltaBytes: 1, repoSizeBytes: 1, repoDeltaBytes: 1, prior: null, walStart: 'a', walStop: 'b', error: false, ...o,
});
const info = (backups: BackupRecord[], o: Partial<StanzaInfo> = {}): RepoAnswer => ({
  info: {
    stanza: 'c1', status: backups.length ? { code: 0, message: 'ok' } : { code: 2, message: 'no valid backups' },
    systemId: '7412', pgVersion: '15', archiveMin: null, archiveMax: null, backups, backupLockHeld: false, ...o,
  },
});
const full = backup('20261207-101010F', '2026-12-07T10:10:20.000Z');
const incr = backup('20261207-101010F_20261207-111010I', '2026-12-07T11:10:20.000Z', { type: 'incr', prior: full.id });

const chooseCases: { name: string; answer: RepoAnswer; primary: string | null; id?: string; because?: RegExp }[] = [
  { name: 'the newest good backup', answer: info([full, incr]), primary: '7412', id: incr.id },
  { name: 'a backup in error is skipped', answer: info([full, { ...incr, error: true }]), primary: '7412', id: full.id },
  { name: 'no backup yet (ballast up clones before the first one)', answer: info([]), primary: '7412', because: /holds no backup yet \(no valid backups\)/ },
  { name: 'missing stanza', answer: info([], { status: { code: 1, message: 'missing stanza path' }, systemId: null }), primary: '7412', because: /no backup yet \(missing stanza path\)/ },
  { name: 'repository did not answer', answer: { error: 'the backup repository cannot be read' }, primary: '7412', because: /did not answer \(the backup repository cannot be read\)/ },
  { name: 'another database system', answer: info([full]), primary: '9999', because: /another database system.*7412.*9999/ },
  { name: 'primary system identifier unknown', answer: info([full]), primary: null, because: /not known/ },
];

for (const c of chooseCases) {
  test(`chooseRestoreBackup: ${c.name}`, () => {
    const r = chooseRestoreBackup(c.answer, c.primary);
    if (c.id !== undefined) {
      assert.ok('backup' in r, JSON.stringify(r));
      assert.equal(r.backup.id, c.id);
    } else {
      assert.ok('because' in r, JSON.stringify(r));
      assert.match(r.because, c.because!);
    }
  });
}

test('restore arguments: --delta, standby type, the chosen set; no archive-mode=off and no target', () => {
  const args = restoreCloneArgs('20261207-101010F');
  assert.deepEqual(args.slice(0, 4), ['restore', '--delta', '--type=standby', '--set=20261207-101010F']);
  assert.ok(!args.some((a) => a.startsWith('--archive-mode') || a.startsWith('--target')), args.join(' '));
});

test('event texts name the path, the backup, the time taken, the source and the codes', () => {
  assert.equal(
    restoredMessage('pg2', '20261207-101010F', 4100, 'pg1', 'new member: cloning from the primary'),
    'pg2: cloned from the backup 20261207-101010F (pgbackrest restore --delta, 4.1 s), then catching up from the archive and pg1 (new member: cloning from the primary) (code clone-restore)',
  );
  assert.equal(
    restoreFailedMessage('pg2', 'restore from the backup X failed after 0.3 s (boom)', 'pg1'),
    'pg2: restore from the backup X failed after 0.3 s (boom); falling back to pg_basebackup from pg1 (code clone-restore-failed)',
  );
  assert.equal(basebackupReason('why', null), 'why');
  assert.equal(basebackupReason('why', 'the repository holds no backup yet'), 'why; not from a backup: the repository holds no backup yet');
  // The clone event keeps its old beginning ("<me>: cloned from <primary> with pg_basebackup").
  assert.match(basebackupMessage('pg2', 'pg1', 1234, 'why'), /^pg2: cloned from pg1 with pg_basebackup \(1\.2 s; why\) \(code clone-basebackup\)$/);
});
