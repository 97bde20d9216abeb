// Table-driven tests of timeline history parsing and the standby's "diverged for certain" check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { divergedFromPrimary, parseTimelineHistory, type DivergenceInput } from '../../src/agent/timeline.js';

test('timeline history: parsed oldest first; comments, blanks and garbage skipped', () => {
  const text = '1\t0/3000158\tno recovery target specified\n\n# comment\n2\t0/5A2B3C0\tno recovery target specified\nbogus line\n3\tnot-an-lsn\tx\n4\t1/0000000A\tbefore 2026-12-06\n';
  assert.deepEqual(parseTimelineHistory(text), [
    { tli: 1, switchLsn: '0/3000158' }, { tli: 2, switchLsn: '0/5A2B3C0' }, { tli: 4, switchLsn: '1/0000000A' },
  ]);
  assert.deepEqual(parseTimelineHistory(''), []);
  assert.deepEqual(parseTimelineHistory('0\t0/1\tx\n-1\t0/1\tx'), []);
});

const base: DivergenceInput = {
  primaryTimeline: 3,
  primaryHistory: [{ tli: 1, switchLsn: '0/3000000' }, { tli: 2, switchLsn: '0/5000000' }],
  streamedTli: 2,
  localTimeline: 2,
  replayLsn: '0/5000100',
};

const cases: [string, Partial<DivergenceInput>, boolean][] = [
  ['replayed past where our timeline ends in the primary\'s history', {}, true],
  ['replayed exactly up to the fork: can follow', { replayLsn: '0/5000000' }, false],
  ['behind the fork: can follow', { replayLsn: '0/4FFFFFF' }, false],
  ['older ancestor, past its end', { streamedTli: 1, localTimeline: 1, replayLsn: '0/3000001' }, true],
  ['older ancestor, before its end', { streamedTli: 1, localTimeline: 1, replayLsn: '0/2000000' }, false],
  ['already on the primary\'s timeline', { streamedTli: 3 }, false],
  ['local timeline moved on since we streamed (followed the switch)', { localTimeline: 3 }, false],
  ['unknown local timeline does not block the check', { localTimeline: null }, true],
  ['agent restarted: timeline we streamed on unknown', { streamedTli: null }, false],
  ['older agent on the primary: no history published', { primaryHistory: undefined }, false],
  ['primary on timeline 1: no history', { primaryHistory: null, primaryTimeline: 1 }, false],
  ['our timeline is not in the published entries (sibling or too old)', { streamedTli: 7, localTimeline: 7, primaryTimeline: 9 }, false],
  ['primary timeline unknown', { primaryTimeline: null }, false],
  ['no replay position', { replayLsn: null }, false],
];

for (const [name, o, want] of cases) {
  test(`divergedFromPrimary: ${name}`, () => {
    assert.equal(divergedFromPrimary({ ...base, ...o }), want);
  });
}
