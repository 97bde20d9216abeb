import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isolationCuts, newRunId, oneWayCuts, partitionCuts, planNetwork, renderChaosTable } from '../../src/chaos/netns.js';

const net = planNetwork('abc123', ['e1', 'p1', 'p2', 'p3']);
const ipOf = (h: string) => net.hosts.find((x) => x.name === h)!.ip;

test('planNetwork: every name carries the run id, addresses in the private subnet', () => {
  assert.equal(net.switchNs, 'blc-abc123-sw');
  assert.deepEqual(net.hosts.map((h) => [h.ns, h.ip]), [
    ['blc-abc123-e1', '10.213.0.10'], ['blc-abc123-p1', '10.213.0.11'], ['blc-abc123-p2', '10.213.0.12'], ['blc-abc123-p3', '10.213.0.13'],
  ]);
  assert.match(newRunId(), /^[a-z][a-z0-9]{5}$/);
});

test('renderChaosTable: no cuts only removes the table', () => {
  assert.equal(renderChaosTable('p1', ipOf, []), 'table inet ballast_chaos\ndelete table inet ballast_chaos\n');
  assert.equal(renderChaosTable('p1', ipOf, partitionCuts('p2', 'p3')), 'table inet ballast_chaos\ndelete table inet ballast_chaos\n');
});

test('renderChaosTable: isolation drops every peer both ways, keeps loopback', () => {
  const cuts = isolationCuts('p1', ['e1', 'p1', 'p2', 'p3']);
  const t = renderChaosTable('p1', ipOf, cuts);
  assert.match(t, /iif "lo" accept/);
  assert.match(t, /ip saddr \{ 10\.213\.0\.10, 10\.213\.0\.12, 10\.213\.0\.13 \} drop/);
  assert.match(t, /ip daddr \{ 10\.213\.0\.10, 10\.213\.0\.12, 10\.213\.0\.13 \} drop/);
  // the peers drop p1 too
  assert.match(renderChaosTable('p2', ipOf, cuts), /ip saddr \{ 10\.213\.0\.11 \} drop[\s\S]*ip daddr \{ 10\.213\.0\.11 \} drop/);
});

test('isolationCuts of a group: every link of each member cut both ways, each once', () => {
  const all = ['e1', 'p1', 'p2', 'p3'];
  const cuts = isolationCuts(['p1', 'p2'], all);
  const keys = cuts.map((c) => `${c.from}>${c.to}`).sort();
  assert.equal(new Set(keys).size, keys.length, 'no duplicates');
  const want = ['e1>p1', 'e1>p2', 'p1>e1', 'p1>p2', 'p1>p3', 'p2>e1', 'p2>p1', 'p2>p3', 'p3>p1', 'p3>p2'];
  assert.deepEqual(keys, want);
  assert.deepEqual(isolationCuts(['p1'], all), isolationCuts('p1', all));
});

test('renderChaosTable: one-way loss is one-directional', () => {
  const cuts = oneWayCuts('p1', ['p2']);
  const sender = renderChaosTable('p1', ipOf, cuts);
  assert.match(sender, /ip daddr \{ 10\.213\.0\.12 \} drop/);
  assert.doesNotMatch(sender, /saddr/);
  const receiver = renderChaosTable('p2', ipOf, cuts);
  assert.match(receiver, /ip saddr \{ 10\.213\.0\.11 \} drop/);
  assert.doesNotMatch(receiver, /daddr/);
});

test('partial partition: a and c cut, b untouched', () => {
  const cuts = partitionCuts('p1', 'p3');
  assert.match(renderChaosTable('p1', ipOf, cuts), /ip daddr \{ 10\.213\.0\.13 \} drop/);
  assert.match(renderChaosTable('p3', ipOf, cuts), /ip daddr \{ 10\.213\.0\.11 \} drop/);
  assert.doesNotMatch(renderChaosTable('p2', ipOf, cuts), /drop/);
});
