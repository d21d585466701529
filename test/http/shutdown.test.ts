import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { SqliteStore } from '../../src/db/sqlite/sqlite.js';
import { ProviderSimulator } from '../../src/simulator/simulator.js';
import { newSecret, TestApp } from '../helpers/app-server.js';
import {
  formBody,
  signedTelnyx,
  telnyxKeys,
  telnyxReceived,
  TWILIO_SID,
  TWILIO_TOKEN,
  twilioInbound,
  twilioSignature,
} from '../helpers/carriers.js';
import { startProcess, waitReady } from '../helpers/process.js';
import { carrierEnv, configFile, freePort, TWILIO_FROM } from '../helpers/send-gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-shutdown-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('graceful shutdown', () => {
  it('answers every webhook in flight 200 (stored) or 503 (not stored), never 5xx otherwise', async () => {
    const keys = telnyxKeys();
    const path = join(dir, 'gw.db');
    // The app owns and closes its store here, as in production.
    const app = await buildApp(
      loadConfig({ DATABASE_URL: path, LOG_LEVEL: 'silent', TELNYX_PUBLIC_KEY: keys.publicKey }),
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };

    const bodies = Array.from({ length: 40 }, (_, i) => telnyxReceived({ text: `in flight ${i}` }));
    // A connection refused or reset once closing began was never acknowledged: the carrier retries it (null).
    const sends = bodies.map((body) =>
      fetch(`http://127.0.0.1:${port}/webhooks`, { method: 'POST', ...signedTelnyx(keys, body) }).then(
        (res) => res.status,
        () => null,
      ),
    );
    // Close as soon as the first answer is back: the others are in flight at every stage of the pipeline.
    await Promise.race(sends);
    await app.close();
    const statuses = await Promise.all(sends);

    const acknowledged: string[] = [];
    statuses.forEach((status, i) => {
      if (status === null) return;
      expect([200, 503]).toContain(status);
      if (status === 200) acknowledged.push(bodies[i]!.data.payload.id);
    });
    expect(acknowledged.length).toBeGreaterThan(0);

    const store = await SqliteStore.open({ path });
    try {
      const stored = (await store.listMessages({}, { limit: 200 })).data.map((m) => m.providerMessageId);
      for (const id of acknowledged) expect(stored).toContain(id);
    } finally {
      await store.close();
    }
  });
});

describe('shutdown of the real process', () => {
  it(
    'in compute mode, with the app slow and sends in flight, ends within its deadline with exit code 0 and loses nothing',
    { timeout: 60_000 },
    async () => {
      // COMPUTE_TIMEOUT_MS 9 s: the whole shutdown has 11 s. A request waiting for the app takes up to 9 s of it;
      // deliveries, sends and the store share the rest.
      const deadlineMs = 11_000;
      const sim = await ProviderSimulator.start({
        twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN },
        callbacks: { enabled: false },
      });
      sim.setFaults('twilio', { latencyMs: 3_000 });
      const app = await TestApp.start();
      app.answer((req) => {
        const event = JSON.parse(req.body) as { type: string; data: { body?: string } };
        if (event.type !== 'message.received') return { status: 204 };
        // One app request never answers (the gateway gives up at the deadline); one answers within it.
        if (event.data.body === 'never') return new Promise(() => undefined);
        return { delayMs: 1_000, body: { reply: { body: 'quick reply' } } };
      });
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const db = join(dir, 'compute.db');
      const apiKey = 'shutdown-test-key-0123456';
      const gateway = startProcess({
        ...carrierEnv(sim),
        PORT: String(port),
        DATABASE_URL: db,
        PUBLIC_BASE_URL: base,
        SWITCHBOARD_API_KEYS: apiKey,
        LOG_LEVEL: 'warn',
        PROCESSING_MODE: 'compute',
        COMPUTE_TIMEOUT_MS: '9000',
        APP_WEBHOOK_URL: `${app.url}/events`,
        APP_WEBHOOK_SECRET: newSecret(),
        APP_WEBHOOK_TIMEOUT_MS: '30000',
        SWITCHBOARD_CONFIG: configFile({
          providers: { twilio: { from: TWILIO_FROM, mps: null, concurrency: 4 } },
        }),
      });
      try {
        await waitReady(base);
        const batch = await fetch(`${base}/v1/messages/batch`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            messages: Array.from({ length: 12 }, (_, i) => ({ to: '+14155550123', body: `batch ${i}` })),
          }),
        });
        expect(batch.status).toBe(202);
        const ids = ((await batch.json()) as { data: { message: { id: string } }[] }).data.map(
          (d) => d.message.id,
        );
        const inbound = (from: string, body: string) => {
          const params = twilioInbound({ From: from, To: TWILIO_FROM, Body: body });
          return fetch(`${base}/webhooks`, {
            method: 'POST',
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              'x-twilio-signature': twilioSignature(`${base}/webhooks`, params, TWILIO_TOKEN),
            },
            body: formBody(params),
          }).then(async (res) => ({ status: res.status, twiml: await res.text() }));
        };
        const never = inbound('+14155550111', 'never');
        await app.waitFor(1, 10_000);
        const quick = inbound('+14155550122', 'quick');
        await app.waitFor(2, 10_000);
        expect(sim.stats('twilio').requests).toBeGreaterThan(0); // sends in flight (3 s each)

        const signalled = performance.now();
        gateway.child.kill('SIGTERM');
        // Requests in flight are answered: the app's quick reply inline, the other empty at the compute deadline.
        const [quickAnswer, neverAnswer] = await Promise.all([quick, never]);
        expect(quickAnswer.status).toBe(200);
        expect(quickAnswer.twiml).toContain('<Body>quick reply</Body>');
        expect(neverAnswer).toEqual({ status: 200, twiml: expect.stringContaining('<Response/>') });
        expect(await gateway.exited).toBe(0);
        expect(performance.now() - signalled).toBeLessThan(deadlineMs + 500);
        expect(gateway.output()).not.toContain('deadline passed');

        const store = await SqliteStore.open({ path: db });
        try {
          // Every send the carrier accepted is recorded; every other one is still in the outbox.
          const messages = await Promise.all(ids.map((id) => store.getMessage(id)));
          const recorded = messages
            .filter((m) => m?.providerMessageId != null)
            .map((m) => m!.providerMessageId);
          const accepted = sim.messages('twilio').map((m) => m.id);
          expect(accepted.length).toBeGreaterThan(0);
          expect(recorded.sort()).toEqual(accepted.sort());
          expect((await store.loadOutbox('twilio', null, 100)).length).toBe(ids.length - accepted.length);
          // Both inbound messages are stored; the event the app never answered is still pending (delivered
          // after the next start), the other delivered.
          const events = (await store.listEvents({ type: 'message.received' }, { limit: 10 })).data;
          const details = await Promise.all(events.map((e) => store.getEvent(e.id)));
          const states = Object.fromEntries(
            details.map((d) => [(d!.payload.data as { body: string }).body, d!.deliveries[0]?.state]),
          );
          expect(states).toEqual({ never: 'pending', quick: 'delivered' });
        } finally {
          await store.close();
        }
      } finally {
        gateway.child.kill('SIGKILL');
        await app.close();
        await sim.close();
      }
    },
  );
});
