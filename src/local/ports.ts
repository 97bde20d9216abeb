// Free loopback TCP ports.
import { createServer, type Server } from 'node:net';
import { LOOPBACK } from './layout.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, LOOPBACK, () => resolve(srv));
  });
}

function close(srv: Server): Promise<void> {
  return new Promise((resolve) => srv.close(() => resolve()));
}

/** `count` distinct free ports (all held open together while choosing, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listen(0));
    return servers.map((s) => {
      const a = s.address();
      if (typeof a !== 'object' || a === null) throw new Error('no port assigned');
      return a.port;
    });
  } finally {
    await Promise.all(servers.map(close));
  }
}

/** Ports among `ports` that something else is listening on now. */
export async function busyPorts(ports: number[]): Promise<number[]> {
  const busy: number[] = [];
  for (const p of ports) {
    try {
      await close(await listen(p));
    } catch {
      busy.push(p);
    }
  }
  return busy;
}
