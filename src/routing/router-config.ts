// `ballast router --config FILE`: one router per client-side host. The file holds no secrets
// (the passwords come from secretsFile, mode 0600).
import { z } from 'zod';
import { NAME_PATTERN } from '../domain/types.js';
import { routingSpecSchema } from './routing-types.js';

const name = z.string().regex(NAME_PATTERN, 'must match ^[a-z][a-z0-9_]{0,30}$');
const port = z.number().int().min(1).max(65535);

export const routerConfigSchema = z
  .object({
    cluster: name,
    /** Router id (its status key in etcd). */
    id: name,
    etcd: z.array(z.string().url()).min(1),
    /** HAProxy and PgBouncer files and sockets (owned by osUser, 0700). */
    runDir: z.string().startsWith('/'),
    secretsFile: z.string().startsWith('/'),
    /** OS user HAProxy and PgBouncer run as when the router is root. */
    osUser: z.string().min(1).default('postgres'),
    /** The members HAProxy routes to: postgres address and agent health API. */
    members: z
      .array(z.object({ name, host: z.string().min(1), port, apiHost: z.string().min(1), apiPort: port }).strict())
      .min(1),
    routing: routingSpecSchema,
    /** How often the router reads the view (and checks its processes), ms. */
    pollMs: z.number().int().min(20).max(10_000).default(100),
    /** How often it publishes its status to etcd, ms. */
    publishMs: z.number().int().min(100).max(60_000).default(1000),
    /** TTL of its status lease, s. */
    leaseTtlSec: z.number().int().min(1).max(60).default(3),
  })
  .strict();
export type RouterConfig = z.infer<typeof routerConfigSchema>;
export type RouterConfigInput = z.input<typeof routerConfigSchema>;
