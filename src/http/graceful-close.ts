import type { FastifyInstance } from 'fastify';
import type { ShutdownBudget } from '../shutdown.js';

/** How often, while closing, connections that have just become idle are closed. */
const IDLE_SWEEP_MS = 50;

/**
 * Lets a close finish once the requests in flight are answered, within the shutdown's budget.
 *
 * Fastify closes idle keep-alive connections once, when close() begins (and answers new requests 503). A
 * connection still busy at that moment stays open after its response, idle but kept alive, and the server waits
 * for it until the keep-alive timeout (72 s), far past any shutdown deadline. So while closing, connections are
 * closed as soon as they turn idle. No per-request hook: nothing on the hot path.
 *
 * A request still unanswered when the budget, less `reserveMs` for the steps after, is spent has its connection
 * closed: not acknowledged, so a carrier sends it again (and a client sees the connection fail).
 */
export function registerGracefulClose(app: FastifyInstance, budget: ShutdownBudget, reserveMs: number): void {
  let sweep: NodeJS.Timeout | undefined;
  let cut: NodeJS.Timeout | undefined;
  app.addHook('preClose', (done) => {
    sweep = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS);
    sweep.unref();
    cut = setTimeout(() => app.server.closeAllConnections(), budget.left(reserveMs));
    cut.unref();
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    clearInterval(sweep);
    clearTimeout(cut);
    done();
  });
}
