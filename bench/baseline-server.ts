/**
 * The throughput ceiling for bench/ingest.ts: the same framework (Fastify 5) with the same raw-body parsing and the
 * same TwiML acknowledgement as the gateway's webhook route, and nothing else: no logger, no signature check, no
 * parsing, no database. The gateway's req/s is reported as a fraction of this.
 *
 * Run as `PORT=... node --import tsx bench/baseline-server.ts`.
 */
import Fastify from 'fastify';

const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';
// The gateway's limit for webhook bodies (src/http/webhooks.ts), so both read bodies the same way.
const BODY_LIMIT = 64 * 1024;

const port = Number(process.env.PORT ?? '0');
const app = Fastify({ logger: false, trustProxy: false });

app.removeAllContentTypeParsers();
app.addContentTypeParser(
  ['application/x-www-form-urlencoded', 'application/json'],
  { parseAs: 'buffer', bodyLimit: BODY_LIMIT },
  // The body is read in full, as a Buffer, then ignored.
  (_request, body, done) => done(null, body),
);
app.post('/webhooks', async (_request, reply) => reply.type('text/xml; charset=utf-8').send(EMPTY_TWIML));

// Close like the gateway does on SIGTERM, so both are stopped the same way.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

await app.listen({ port, host: '127.0.0.1' });
