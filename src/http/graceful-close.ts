import type { FastifyInstance } from 'fastify';

/** How often, while closing, connections that have just become idle are closed. */
const IDLE_SWEEP_MS = 50;

/**
 * Lets a close finish once the requests in flight are answered.
 *
 * Fastify closes idle keep-alive connections once, when close() begins (and answers new requests 503). A
 * connection still busy at that moment stays open after its response, idle but kept alive, and the server waits
 * for it until the keep-alive timeout (72 s), far past any shutdown deadline. So while closing, connections are
 * closed as soon as they turn idle. No per-request hook: nothing on the hot path.
 */
export function registerGracefulClose(app: FastifyInstance): void {
  let sweep: NodeJS.Timeout | undefined;
  app.addHook('preClose', (done) => {
    sweep = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS);
    sweep.unref();
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    clearInterval(sweep);
    done();
  });
}
