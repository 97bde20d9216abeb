// briefError: long tool errors keep their first line and their end (where the cause is).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { briefError } from '../../src/agent/agent-executor.js';

test('briefError keeps short messages as they are', () => {
  assert.equal(briefError('pg_rewind failed (exit 1): boom'), 'pg_rewind failed (exit 1): boom');
});

test('briefError keeps the first line and the cause at the end of a long message', () => {
  const text = ['pg_rewind failed (exit 1):', ...Array.from({ length: 30 }, (_, i) => `LOG:  noise line ${i}`),
    'PANIC:  could not locate a valid checkpoint record', 'pg_rewind: fatal: postgres single-user mode in target cluster failed'].join('\n');
  const b = briefError(text);
  assert.ok(b.length <= 400, `at most 400 characters (${b.length})`);
  assert.ok(b.startsWith('pg_rewind failed (exit 1): [...] '));
  assert.match(b, /could not locate a valid checkpoint record/);
  assert.ok(b.endsWith('postgres single-user mode in target cluster failed'));
});
