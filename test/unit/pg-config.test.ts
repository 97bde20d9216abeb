// Pure renderers of Ballast's postgres files, and the synchronous_standby_names parser.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseSyncStandbyNames, quoteConfValue, renderConninfo, renderDynamicConf, renderPassfile, renderPgHba,
  renderPgIdent, renderPostgresqlConf, renderSyncStandbyNames, type StaticConfigInput,
} from '../../src/agent/pg-config.js';
import { InvalidInputError } from '../../src/domain/errors.js';

const base: StaticConfigInput = { memberName: 'a', host: '10.0.0.1', port: 5432, runDir: '/run/ballast/a', pgParameters: {} };

/** key -> value of a rendered postgresql.conf (values unquoted). */
function settings(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const r = /^(\w+) = '((?:[^']|'')*)'$/.exec(line);
    if (r) m.set(r[1] as string, (r[2] as string).replace(/''/g, "'"));
  }
  return m;
}

describe('renderPostgresqlConf', () => {
  const conf = renderPostgresqlConf(base);
  const s = settings(conf);
  const essentials: [string, string][] = [
    ['listen_addresses', '10.0.0.1'], ['port', '5432'], ['unix_socket_directories', '/run/ballast/a'],
    ['wal_level', 'replica'], ['hot_standby', 'on'], ['max_wal_senders', '10'], ['max_replication_slots', '10'],
    ['wal_keep_size', '256MB'], ['max_slot_wal_keep_size', '2GB'], ['synchronous_commit', 'on'],
    ['password_encryption', 'scram-sha-256'], ['recovery_target_timeline', 'latest'], ['wal_receiver_timeout', '5s'],
    ['wal_sender_timeout', '5s'], ['wal_receiver_status_interval', '1s'], ['wal_retrieve_retry_interval', '200ms'],
    ['hot_standby_feedback', 'on'], ['shared_buffers', '64MB'], ['max_connections', '200'], ['fsync', 'on'],
    ['log_destination', 'stderr'], ['log_line_prefix', '%m [%p] '],
  ];
  for (const [k, v] of essentials) it(`sets ${k} = ${v}`, () => assert.equal(s.get(k), v));

  it('ends with the dynamic include', () => {
    assert.match(conf, /include_if_exists = 'ballast-dynamic.conf'\n$/);
  });
  it('never sets replication settings statically', () => {
    for (const k of ['primary_conninfo', 'primary_slot_name', 'synchronous_standby_names']) assert.equal(s.has(k), false);
  });
  it('lets pgParameters override and extend', () => {
    const t = settings(renderPostgresqlConf({ ...base, pgParameters: { shared_buffers: '1GB', work_mem: "it's" } }));
    assert.equal(t.get('shared_buffers'), '1GB');
    assert.equal(t.get('work_mem'), "it's");
  });
  const badParams: Record<string, string>[] = [{ 'bad name': 'x' }, { include: '/etc/passwd' }, { include_dir: 'x' }, { work_mem: 'a\nb' }];
  for (const p of badParams) {
    it(`rejects ${JSON.stringify(p)}`, () => assert.throws(() => renderPostgresqlConf({ ...base, pgParameters: p }), InvalidInputError));
  }
});

describe('quoteConfValue', () => {
  const cases: [string, string][] = [['on', "'on'"], ["it's", "'it''s'"], ['a\\b', "'a\\\\b'"], ['', "''"]];
  for (const [input, want] of cases) it(`quotes ${JSON.stringify(input)}`, () => assert.equal(quoteConfValue(input), want));
});

describe('pg_hba and pg_ident', () => {
  const hba = renderPgHba().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  const want = [
    'local all postgres peer map=ballast',
    'host replication replicator 0.0.0.0/0 scram-sha-256',
    'host all all 0.0.0.0/0 scram-sha-256',
  ];
  for (const w of want) it(`pg_hba has "${w}"`, () => assert.ok(hba.includes(w)));
  it('pg_hba has no trust or password methods', () => assert.doesNotMatch(renderPgHba(), /\btrust\b|\bpassword\b|\bmd5\b/));
  it('peer line comes before the local scram catch-all', () => {
    assert.ok(hba.indexOf('local all postgres peer map=ballast') < hba.indexOf('local all all scram-sha-256'));
  });
  it('pg_ident maps each OS user once to postgres', () => {
    const lines = renderPgIdent(['root', 'postgres', 'root']).split('\n').filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(lines.map((l) => l.split(/\s+/)), [['ballast', 'root', 'postgres'], ['ballast', 'postgres', 'postgres']]);
  });
  it('pg_ident rejects odd OS user names', () => assert.throws(() => renderPgIdent(['ro ot']), InvalidInputError));
});

describe('renderDynamicConf', () => {
  const cases: { name: string; role: Parameters<typeof renderDynamicConf>[1]; has: string[]; not: string[] }[] = [
    {
      name: 'primary without sync standbys',
      role: { kind: 'primary', syncStandbys: [] },
      has: ["synchronous_standby_names = ''"],
      not: ['primary_conninfo', 'primary_slot_name'],
    },
    {
      name: 'primary with two sync standbys',
      role: { kind: 'primary', syncStandbys: ['b', 'c'] },
      has: [`synchronous_standby_names = 'FIRST 2 ("b", "c")'`],
      not: ['primary_conninfo'],
    },
    {
      name: 'standby of b',
      role: { kind: 'standby', upstream: { name: 'b', host: '10.0.0.2', port: 5433 } },
      has: [
        "primary_conninfo = 'host=10.0.0.2 port=5433 user=replicator application_name=a passfile=/run/a/pgpass connect_timeout=2'",
        "primary_slot_name = 'ballast_a'",
      ],
      not: ['synchronous_standby_names', 'password='],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const text = renderDynamicConf('a', c.role, '/run/a/pgpass');
      for (const h of c.has) assert.ok(text.includes(h), `missing ${h} in\n${text}`);
      for (const n of c.not) assert.ok(!text.includes(n), `unexpected ${n} in\n${text}`);
    });
  }
});

describe('renderConninfo', () => {
  const cases: [Record<string, string | number>, string][] = [
    [{ host: 'h', port: 1 }, 'host=h port=1'],
    [{ passfile: '/a b/p' }, "passfile='/a b/p'"],
    [{ x: "it's" }, "x='it\\'s'"],
    [{ x: '' }, "x=''"],
  ];
  for (const [input, want] of cases) it(`renders ${want}`, () => assert.equal(renderConninfo(input), want));
});

describe('renderPassfile', () => {
  it('escapes colons and backslashes', () => {
    assert.equal(renderPassfile([{ user: 'replicator', password: 'a:b\\c' }]), '*:*:*:replicator:a\\:b\\\\c\n');
  });
  it('rejects newlines', () => assert.throws(() => renderPassfile([{ user: 'u', password: 'a\nb' }]), InvalidInputError));
});

describe('synchronous_standby_names', () => {
  const parse: [string, string[]][] = [
    ['', []],
    ['  ', []],
    ['FIRST 1 ("b")', ['b']],
    ['FIRST 2 ("b", "c")', ['b', 'c']],
    ['first 1 (b, c)', ['b', 'c']],
    ['ANY 1 (b,c)', ['b', 'c']],
    ['2 (b, "c")', ['b', 'c']],
    ['b, c', ['b', 'c']],
    ['b', ['b']],
    ['"we""ird", x', ['we"ird', 'x']],
    ['*', ['*']],
  ];
  for (const [input, want] of parse) {
    it(`parses ${JSON.stringify(input)}`, () => assert.deepEqual(parseSyncStandbyNames(input), want));
  }
  const roundTrip: string[][] = [[], ['a'], ['a', 'b', 'c']];
  for (const names of roundTrip) {
    it(`round-trips ${JSON.stringify(names)}`, () => assert.deepEqual(parseSyncStandbyNames(renderSyncStandbyNames(names)), names));
  }
  it('rejects an unterminated quote', () => assert.throws(() => parseSyncStandbyNames('FIRST 1 ("b)'), InvalidInputError));
});
