// The agent's HTTP API: /health, /primary, /replica, /sync, /status, /failsafe.
// GET endpoints answer 200 or 503 with a one-line JSON reason (HAProxy checks use the status).
import Fastify, { type FastifyInstance } from 'fastify';
import {
  answerFailsafe,
  checkHealth,
  checkPrimary,
  checkReplica,
  checkSync,
  parseLimit,
  type HealthFacts,
  type Verdict,
} from './health-checks.js';

export async function startHealthServer(host: string, port: number, facts: () => HealthFacts): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  const reply = (v: Verdict) => ({ code: v.ok ? 200 : 503, body: { ok: v.ok, reason: v.why } });
  const route = (path: string, check: (f: HealthFacts, q: Record<string, unknown>) => Verdict) => {
    const handler = async (req: { query: unknown }, res: { code(n: number): { send(b: unknown): unknown } }) => {
      try {
        const r = reply(check(facts(), (req.query ?? {}) as Record<string, unknown>));
        return res.code(r.code).send(r.body);
      } catch (e) {
        return res.code(400).send({ ok: false, reason: (e as Error).message });
      }
    };
    app.get(path, handler);
  };
  route('/health', (f) => checkHealth(f));
  route('/primary', (f) => checkPrimary(f));
  route('/replica', (f, q) =>
    checkReplica(f, { maxLagBytes: parseLimit(q.max_lag_bytes, 'max_lag_bytes'), maxLagMs: parseLimit(q.max_lag_ms, 'max_lag_ms') }),
  );
  route('/sync', (f) => checkSync(f));
  app.get('/status', async () => {
    const f = facts();
    return { ...f.status, view: f.view, confirmation: f.confirmation };
  });
  app.post('/failsafe', async (req, res) => {
    const body = (req.body ?? {}) as { primary?: unknown; generation?: unknown };
    if (typeof body.primary !== 'string' || typeof body.generation !== 'number') {
      return res.code(400).send({ ok: false, reason: 'body must be {primary: string, generation: number}' });
    }
    const v = answerFailsafe(facts(), body.primary, body.generation);
    return res.code(v.ok ? 200 : 409).send({ ok: v.ok, reason: v.why });
  });
  await app.listen({ host, port });
  return app;
}
