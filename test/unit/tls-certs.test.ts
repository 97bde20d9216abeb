// The x509 extensions of the certificates Ballast's CA signs (pure), and bad requests refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leafExtensions } from '../../src/tls/certs.js';
import { InvalidInputError } from '../../src/domain/errors.js';

test('a leaf certificate serves both ends of TLS and names its IPs as IP and DNS entries', () => {
  const cases: Array<[string, Parameters<typeof leafExtensions>[0], string]> = [
    ['host with an IP', { name: 'p1', ips: ['10.213.0.13'] }, 'subjectAltName=DNS:p1,DNS:10.213.0.13,IP:10.213.0.13'],
    ['host with DNS names', { name: 'bk', dnsNames: ['bk.example.net'] }, 'subjectAltName=DNS:bk,DNS:bk.example.net'],
    ['explicit CN', { name: 'member-1', cn: 'pg1', ips: ['127.0.0.1'] }, 'subjectAltName=DNS:pg1,DNS:127.0.0.1,IP:127.0.0.1'],
    ['duplicates once', { name: 'p1', dnsNames: ['p1'], ips: [] }, 'subjectAltName=DNS:p1'],
  ];
  for (const [what, req, san] of cases) {
    const lines = leafExtensions(req).split('\n');
    assert.ok(lines.includes(san), `${what}: ${lines.join(' | ')}`);
    assert.ok(lines.includes('extendedKeyUsage=serverAuth,clientAuth'), what);
    assert.ok(lines.includes('basicConstraints=critical,CA:FALSE'), what);
  }
});

test('bad certificate requests are refused with a clear error', () => {
  const bad: Array<[string, Parameters<typeof leafExtensions>[0]]> = [
    ['upper-case name', { name: 'P1' }],
    ['name with a slash', { name: 'p1/../x' }],
    ['name with a newline', { name: 'p1\nsubjectAltName=DNS:evil' }],
    ['bad IP', { name: 'p1', ips: ['10.0.0.256'] }],
    ['IPv6 (not yet)', { name: 'p1', ips: ['::1'] }],
    ['DNS name with a comma', { name: 'p1', dnsNames: ['a,IP:1.2.3.4'] }],
    ['CN with a space', { name: 'p1', cn: 'p 1' }],
  ];
  for (const [what, req] of bad) assert.throws(() => leafExtensions(req), InvalidInputError, what);
});
