// pgBackRest's errors in Ballast's words: the code explained, the cause lines kept, hints dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainPgBackRestError } from '../../src/backup/pgbackrest.js';
import { CommandFailedError, InvalidInputError } from '../../src/domain/errors.js';

const failed = (stderr: string) => new CommandFailedError(`/usr/bin/pgbackrest ... exited with code 1: ${stderr}`);

test('pgBackRest errors: explained, with their cause, hints left out', () => {
  const cases: Array<[string, string, RegExp, RegExp | null, 'invalid' | 'failed']> = [
    ['another backup runs', 'ERROR: [050]: unable to acquire lock on file \'/d/lock/main-backup.lock\': Resource temporarily unavailable\n       HINT: is another pgBackRest process running?',
      /already running.*backup was not started.*error 050: unable to acquire lock/, /HINT/, 'invalid'],
    ['backup host down', 'ERROR: [049]: unable to connect to \'10.213.0.18:8432\': [111] Connection refused',
      /cannot be reached .*error 049: unable to connect to '10\.213\.0\.18:8432': \[111\] Connection refused/, null, 'failed'],
    ['certificate name', 'ERROR: [095]: unable to find hostname \'10.0.0.9\' in certificate common name or subject alternative names',
      /does not name the address .*unable to find hostname '10\.0\.0\.9'/, null, 'failed'],
    ['not authorized', 'ERROR: [105]: raised from remote-0 tls protocol on \'127.0.0.1\': access denied', /refused this host's certificate .*access denied/, null, 'failed'],
    ['cause on the next lines', 'ERROR: [103]: unable to find a valid repository:\n       repo1: [PermissionError] unable to list file info for path \'/d/repo/archive\': [13] Permission denied\n       HINT: is archive_command configured?',
      /\[103\] unable to find a valid repository: repo1: \[PermissionError\] .*\[13\] Permission denied$/, /HINT/, 'failed'],
    ['unknown code, one line', 'ERROR: [999]: something new', /^pgbackrest backup failed: \[999\] something new$/, null, 'failed'],
  ];
  for (const [what, stderr, want, notWant, kind] of cases) {
    const e = explainPgBackRestError(failed(stderr), 'backup');
    assert.match(e.message, want, what);
    if (notWant) assert.doesNotMatch(e.message, notWant, what);
    assert.ok(kind === 'invalid' ? e instanceof InvalidInputError : !(e instanceof InvalidInputError), `${what}: ${e.constructor.name}`);
  }
});
