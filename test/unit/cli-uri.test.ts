import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRwUri } from '../../src/cli/uri.js';

test('buildRwUri: multi-host read-write URI', () => {
  const uri = buildRwUri('app', 'secret', [{ host: '127.0.0.1', port: 5001 }, { host: '127.0.0.1', port: 5002 }], 'app');
  assert.equal(uri, 'postgresql://app:secret@127.0.0.1:5001,127.0.0.1:5002/app?target_session_attrs=read-write&connect_timeout=2');
});

test('buildRwUri: passwords are percent-encoded so every character survives', () => {
  const pw = "p@ss:w/o?r#d% &!'()*+,;=[]é";
  const uri = buildRwUri('app', pw, [{ host: '127.0.0.1', port: 1 }], 'app');
  const userinfo = uri.slice('postgresql://'.length, uri.lastIndexOf('@'));
  assert.doesNotMatch(userinfo.slice(4), /[@:/?#&!'()*\s[\]]/);
  assert.equal(decodeURIComponent(userinfo.slice(4)), pw);
  const parsed = new URL(uri);
  assert.equal(decodeURIComponent(parsed.password), pw);
  assert.equal(parsed.username, 'app');
});

test('buildRwUri: base64url passwords pass unchanged; IPv6 hosts bracketed', () => {
  assert.match(buildRwUri('app', 'a-b_C9', [{ host: '::1', port: 5 }], 'app'), /^postgresql:\/\/app:a-b_C9@\[::1\]:5\/app\?/);
});

test('buildRwUri: refuses an empty host list', () => {
  assert.throws(() => buildRwUri('app', 'x', [], 'app'));
});
