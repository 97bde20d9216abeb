// Acceptance item of the HA core: the primary's whole host is frozen (SIGSTOP of its agent,
// postmaster and children) long enough for a failover, then thawed (SIGCONT).
// Protocol (docs/ha-protocol.md, "Fencing"): the frozen primary cannot acknowledge a commit once
// the new primary was promoted (its only synchronous standby was promoted and stopped streaming
// from it); its agent sees the newer view and demotes it (stop, pg_rewind, follow).
// A probe connects DIRECTLY to the old primary's port during and after the thaw and tries to
// commit; a COMMIT it acknowledges would be a split brain and fails the test. Blocked, timed-out
// or failed attempts are fine.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { TestCluster } from '../../src/testkit/cluster.js';
import { longestGap, Writer } from '../../src/testkit/writer.js';

const PROBE_TABLE = 'ballast_split_brain_probe';

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.start({ members: 3, restartDelayMs: 3000 });
});
after(async () => {
  await cluster?.stop();
});

interface ProbeResult {
  attempts: number;
  /** COMMITs the old primary acknowledged: each one is a violation. */
  acked: { id: number; at: number; via: string }[];
  errors: Map<string, number>;
}

function classify(e: unknown): string {
  const m = (e as Error).message ?? String(e);
  if (/read-only transaction/.test(m)) return 'read-only (standby)';
  if (/timeout|timed out/i.test(m)) return 'timeout';
  if (/ECONNREFUSED/.test(m)) return 'connection refused';
  if (/starting up|shutting down|not yet accepting|in recovery/.test(m)) return 'server starting/stopping';
  if (/terminat|Connection terminated|ECONNRESET|administrator command/i.test(m)) return 'connection terminated';
  return m.slice(0, 80);
}

async function endQuietly(c: pg.Client): Promise<void> {
  // end() waits for the server to close its side; a frozen server never does.
  await Promise.race([c.end().catch(() => undefined), sleep(500)]);
}

/** Try `INSERT` on one member through fresh direct connections until stop() is called. */
function probeLoop(uri: string, firstId: number): { result: ProbeResult; stop(): Promise<ProbeResult> } {
  const result: ProbeResult = { attempts: 0, acked: [], errors: new Map() };
  let stopped = false;
  let id = firstId;
  const loop = (async () => {
    while (!stopped) {
      const myId = id++;
      result.attempts += 1;
      const c = new pg.Client({ connectionString: uri, connectionTimeoutMillis: 1000, query_timeout: 1500 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.query(`INSERT INTO ${PROBE_TABLE}(id, via) VALUES ($1, 'loop')`, [myId]);
        result.acked.push({ id: myId, at: performance.now(), via: 'loop' });
      } catch (e) {
        const k = classify(e);
        result.errors.set(k, (result.errors.get(k) ?? 0) + 1);
      } finally {
        await endQuietly(c);
      }
      await sleep(50);
    }
  })();
  return {
    result,
    async stop() {
      stopped = true;
      await loop;
      return result;
    },
  };
}

test('primary frozen (SIGSTOP) through a failover, then thawed: it never acknowledges a write, and rejoins via pg_rewind', async () => {
  const d0 = await cluster.waitHealthy();
  const old = d0.members.find((m) => m.role === 'primary')!;
  const syncName = d0.view!.syncConfirmed[0]!;
  await cluster.query(old.name, `CREATE TABLE ${PROBE_TABLE}(id bigint PRIMARY KEY, via text NOT NULL, at timestamptz NOT NULL DEFAULT now())`);

  const writer = new Writer(cluster.writerTarget());
  await writer.start();
  await writer.waitForAcks(50);

  // A session opened before the freeze: it needs no new connection after the thaw.
  const held = new pg.Client({ connectionString: cluster.memberUri(old.name), connectionTimeoutMillis: 3000, query_timeout: 30_000 });
  held.on('error', () => undefined);
  await held.connect();
  await held.query('SELECT 1');

  const frozenAt = performance.now();
  const frozen = cluster.freezeHost(old.name, 'SIGSTOP');
  assert.ok(frozen.length >= 2, `froze the agent and the postmaster (pids ${frozen.join(', ')})`);

  let newPrimary: string;
  let promotedSeenAt: number;
  let probes: ReturnType<typeof probeLoop> | null = null;
  let heldOutcome: Promise<string> = Promise.resolve('not sent');
  try {
    const d = await cluster.waitFor('another member is primary', (x) => x.members.some((m) => m.role === 'primary' && m.name !== old.name), 30_000);
    promotedSeenAt = performance.now();
    newPrimary = d.members.find((m) => m.role === 'primary')!.name;
    await writer.waitForAcks(50, 30_000);

    // From now on every commit the old primary acknowledges is a violation.
    probes = probeLoop(cluster.memberUri(old.name), 1_000_000);
    heldOutcome = held.query(`INSERT INTO ${PROBE_TABLE}(id, via) VALUES (1, 'held')`).then(
      () => 'ACKNOWLEDGED',
      (e: unknown) => `${classify(e)} (${((e as Error).message ?? '').slice(0, 160)})`,
    );
    await sleep(1500); // probe while still frozen
  } catch (e) {
    cluster.freezeHost(old.name, 'SIGCONT', frozen);
    await probes?.stop();
    await writer.stop();
    await endQuietly(held);
    throw new Error(`${(e as Error).message}\n${await cluster.diagnostics()}`);
  } finally {
    // Thaw exactly what was frozen, whatever happened.
    cluster.freezeHost(old.name, 'SIGCONT', frozen);
  }
  const thawedAt = performance.now();

  let rejoined;
  let rejoinedAt: number;
  try {
    rejoined = await cluster.waitFor(`${old.name} back as a standby`, (x) => {
      const m = x.members.find((y) => y.name === old.name);
      return m !== undefined && (m.role === 'sync' || m.role === 'async') && m.rejoin?.result === 'ok';
    }, 90_000);
    rejoinedAt = performance.now();
    await sleep(2000); // keep probing the standby a little
  } catch (e) {
    await probes?.stop();
    await writer.stop();
    await endQuietly(held);
    throw new Error(`${(e as Error).message}\n${await cluster.diagnostics([old.name, newPrimary])}`);
  }
  const probe = await probes!.stop();
  const heldResult = await Promise.race([heldOutcome, sleep(35_000).then(() => 'still blocked')]);
  await endQuietly(held);
  const result = await writer.stop();

  // No split brain: the old primary acknowledged nothing after the promotion.
  if (heldResult === 'ACKNOWLEDGED') probe.acked.push({ id: 1, at: NaN, via: 'held session' });
  assert.deepEqual(probe.acked, [], `the old primary ${old.name} acknowledged writes after ${newPrimary} was promoted\n${await cluster.diagnostics([old.name])}`);
  // Whatever it may have committed locally (and never acknowledged) was undone by the rewind.
  for (const m of [newPrimary, old.name]) {
    const rows = await cluster.query<{ n: string }>(m, `SELECT count(*) AS n FROM ${PROBE_TABLE}`);
    assert.equal(Number(rows[0]!.n), 0, `no probe row on ${m}`);
  }

  // It rejoined as a standby of the new primary via pg_rewind, on the new timeline.
  const o = rejoined.members.find((m) => m.name === old.name)!;
  assert.equal(rejoined.view?.primary, newPrimary);
  assert.equal(newPrimary, syncName, 'the confirmed synchronous standby was promoted');
  assert.equal(o.rejoin?.method, 'rewind', `rejoined via ${o.rejoin?.method}: ${o.rejoin?.reason}`);
  assert.ok((o.timeline ?? 0) > (old.timeline ?? 0), `follows the new timeline (${o.timeline} > ${old.timeline})`);

  // The main writer lost nothing.
  const missing = await cluster.missingOn(newPrimary, result.acked);
  assert.deepEqual(missing, [], `acknowledged writes lost: ${missing.length} of ${result.acked.length}`);
  for (const m of d0.members.map((x) => x.name).filter((n) => n !== newPrimary)) {
    const left = await cluster.waitNoneMissing(m, result.acked, 30_000);
    assert.deepEqual(left, [], `acknowledged writes missing on ${m} after catch-up: ${left.length}`);
  }

  const errs = [...probe.errors.entries()].map(([k, n]) => `${k}: ${n}`).join(', ');
  console.log(`freeze of ${old.name}: failover seen ${(promotedSeenAt - frozenAt).toFixed(0)} ms after SIGSTOP, `
    + `longest write gap ${longestGap(result.acked, frozenAt, thawedAt).toFixed(0)} ms; rejoined ${((rejoinedAt - thawedAt) / 1000).toFixed(1)} s after SIGCONT; `
    + `${probe.attempts} probe attempts on the old primary, 0 acknowledged (${errs}); held session: ${heldResult}; `
    + `${result.acked.length} acknowledged writes, ${result.failures.length} failed attempts`);
});
