import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canTraverse, type OsUser } from '../../src/local/os-user.js';
import { isRefAlive, postmasterOf, procRefOf, stopRef, waitForExit } from '../../src/local/proc.js';

const pgUser: OsUser = { name: 'postgres', uid: 101, gid: 104, groups: [104, 110] };

const traverse: Array<[string, { uid: number; gid: number; mode: number }, boolean]> = [
  ['world x', { uid: 0, gid: 0, mode: 0o40755 }, true],
  ['sticky /tmp', { uid: 0, gid: 0, mode: 0o41777 }, true],
  ['root 0700', { uid: 0, gid: 0, mode: 0o40700 }, false],
  ['root 0750 other group', { uid: 0, gid: 0, mode: 0o40750 }, false],
  ['root 0750 supplementary group', { uid: 0, gid: 110, mode: 0o40750 }, true],
  ['group without x but world x', { uid: 0, gid: 104, mode: 0o40701 }, false],
  ['owned 0700', { uid: 101, gid: 0, mode: 0o40700 }, true],
  ['owned 0600', { uid: 101, gid: 0, mode: 0o40607 }, false],
];
for (const [what, st, ok] of traverse) {
  test(`canTraverse: ${what} -> ${ok}`, () => assert.equal(canTraverse(pgUser, st), ok));
}

test('procRefOf / isRefAlive: start time guards against pid reuse', () => {
  const me = procRefOf(process.pid);
  assert.ok(me);
  assert.equal(isRefAlive(me), true);
  assert.equal(isRefAlive({ pid: process.pid, startTime: `${me.startTime}9` }), false);
  assert.equal(isRefAlive(null), false);
  assert.equal(procRefOf(2 ** 22 + 1), null);
});

test('stopRef stops a child we started; waitForExit sees zombies as gone', async () => {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const ref = procRefOf(child.pid ?? 0);
  assert.ok(ref);
  const lines: string[] = [];
  assert.equal(await stopRef(ref, { signal: 'SIGTERM', graceMs: 5000, escalate: 'SIGKILL', escalateGraceMs: 1000 }, (l) => lines.push(l), 'sleeper'), true);
  assert.equal(await waitForExit(ref, 100), true);
  assert.equal(isRefAlive(ref), false);
});

test('stopRef escalates when the signal is ignored', async () => {
  // Wait until the child has installed its handler: a loaded machine can take well over 300 ms
  // to start node, and a SIGTERM before that kills it (no escalation to observe).
  const child = spawn(process.execPath, ['-e', 'process.on("SIGTERM", () => {}); process.stdout.write("ready\\n"); setInterval(() => {}, 1000)'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  child.stdout!.destroy();
  const ref = procRefOf(child.pid ?? 0);
  assert.ok(ref);
  const lines: string[] = [];
  assert.equal(await stopRef(ref, { signal: 'SIGTERM', graceMs: 300, escalate: 'SIGKILL', escalateGraceMs: 2000 }, (l) => lines.push(l), 'stubborn'), true);
  assert.match(lines.join('\n'), /stubborn .* sending SIGKILL/);
});

test('postmasterOf: a postmaster.pid naming a process that is not in the data dir is ignored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-pm-'));
  try {
    assert.equal(postmasterOf(dir), null); // no file
    writeFileSync(join(dir, 'postmaster.pid'), `${process.pid}\n${dir}\n`);
    assert.equal(postmasterOf(dir), null); // our cwd is not dir
    writeFileSync(join(dir, 'postmaster.pid'), 'garbage\n');
    assert.equal(postmasterOf(dir), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
