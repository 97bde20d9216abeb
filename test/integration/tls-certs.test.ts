// Ballast's CA with the real openssl: a CA, a leaf that verifies against it (server and client
// use), keys 0600, a second CA refused in the same directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../../src/domain/errors.js';
import { OPENSSL_BIN, createCa, issueCert } from '../../src/tls/certs.js';
import { makeTempDir, removeTempDir } from '../../src/testkit/tmp.js';

test('a CA and a leaf certificate made with openssl verify, with 0600 keys', async () => {
  const dir = await makeTempDir('ballast-tls-');
  try {
    const ca = await createCa(join(dir, 'ca'), { cn: 'Ballast test CA', days: 2 });
    const leaf = await issueCert(ca, { name: 'bk', ips: ['10.213.0.18'], days: 1 });
    assert.equal(statSync(ca.keyFile).mode & 0o777, 0o600);
    assert.equal(statSync(leaf.keyFile).mode & 0o777, 0o600);
    for (const purpose of ['sslserver', 'sslclient']) {
      const out = execFileSync(OPENSSL_BIN, ['verify', '-purpose', purpose, '-CAfile', ca.certFile, leaf.certFile], { encoding: 'utf8' });
      assert.match(out, /: OK/, purpose);
    }
    const text = execFileSync(OPENSSL_BIN, ['x509', '-in', leaf.certFile, '-noout', '-subject', '-ext', 'subjectAltName'], { encoding: 'utf8' });
    assert.match(text, /CN ?= ?bk/);
    assert.match(text, /IP Address:10\.213\.0\.18/);
    await assert.rejects(createCa(join(dir, 'ca'), { cn: 'again' }), InvalidInputError);
  } finally {
    await removeTempDir(dir);
  }
});
