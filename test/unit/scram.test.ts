// SCRAM-SHA-256 verifiers: RFC 7677 test vector and verifiers produced by PostgreSQL 15 itself.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import {
  deriveScramKeys, formatScramVerifier, normalizePassword, parseScramVerifier, scramVerifier, scramVerifierMatches,
} from '../../src/agent/scram.js';

const hmac = (key: Buffer, data: string) => createHmac('sha256', key).update(data).digest();

describe('scram', () => {
  it('matches the RFC 7677 exchange (user/pencil)', () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const keys = deriveScramKeys('pencil', salt, 4096);
    const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`;
    // ServerSignature = HMAC(ServerKey, AuthMessage)
    assert.equal(hmac(keys.serverKey, authMessage).toString('base64'), '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) must equal StoredKey.
    const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
    const sig = hmac(keys.storedKey, authMessage);
    const clientKey = Buffer.from(proof.map((b, i) => b ^ (sig[i] as number)));
    assert.deepEqual(createHash('sha256').update(clientKey).digest(), keys.storedKey);
  });

  // Produced by PostgreSQL 15: CREATE ROLE x PASSWORD '<password>' with password_encryption=scram-sha-256.
  const fromPostgres = [
    {
      password: 'pencil',
      verifier: 'SCRAM-SHA-256$4096:c6P3bkov6KTYUqCqhATcqw==$m6yTh492NQ4yxaXsDC3omWNJAlz2grMv5ZSsweie6Mw=:ki+f9MdAngWk+n8I02QoOrVSN3lnh/Wi3faXjTtoI1I=',
    },
    {
      password: 'Pässwörd ünïcode 1234',
      verifier: 'SCRAM-SHA-256$4096:8p7vJ1e0VA67fu7xA9QClg==$B50PfLWnB7eb8kyapq6EfSdGMctcgaNaG6MJt6oFbeg=:EHooV3/s5/jGhVKMBj5eWTvTV7jzdiO5PDiZ/9PHSww=',
    },
  ];
  for (const { password, verifier } of fromPostgres) {
    it(`reproduces PostgreSQL's verifier for ${JSON.stringify(password)}`, () => {
      const parsed = parseScramVerifier(verifier);
      assert.ok(parsed);
      assert.equal(scramVerifier(password, { salt: parsed.salt, iterations: parsed.iterations }), verifier);
      assert.equal(scramVerifierMatches(verifier, password), true);
      assert.equal(scramVerifierMatches(verifier, `${password}x`), false);
    });
  }

  it('uses a random 16-byte salt and 4096 iterations by default', () => {
    const v1 = scramVerifier('same password');
    const v2 = scramVerifier('same password');
    assert.notEqual(v1, v2);
    const k = parseScramVerifier(v1);
    assert.ok(k);
    assert.equal(k.iterations, 4096);
    assert.equal(k.salt.length, 16);
    assert.equal(formatScramVerifier(k), v1);
    assert.equal(scramVerifierMatches(v2, 'same password'), true);
  });

  const notScram: (string | null)[] = [null, '', 'md5abcdef', 'SCRAM-SHA-256$x:y$z:w', 'plaintext'];
  for (const v of notScram) {
    it(`does not parse ${JSON.stringify(v)} as a verifier`, () => {
      assert.equal(parseScramVerifier(v), null);
      assert.equal(scramVerifierMatches(v, 'anything'), false);
    });
  }

  const norm: [string, string][] = [
    ['ascii only', 'ascii only'],
    ['a\u00a0b', 'a b'],
    ['\u2168', 'IX'],
    ['so\u00adft', 'soft'],
  ];
  for (const [input, want] of norm) {
    it(`normalizes ${JSON.stringify(input)}`, () => assert.equal(normalizePassword(input), want));
  }
});
