import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/db/sqlite/sqlite.js';
import { ProviderSimulator } from '../../src/simulator/simulator.js';
import { newSecret, TestApp } from '../helpers/app-server.js';
import { TWILIO_SID, TWILIO_TOKEN } from '../helpers/carriers.js';
import { startProcess, waitReady, type GatewayProcess } from '../helpers/process.js';
import { carrierEnv, configFile, freePort, TELNYX_FROM, TWILIO_FROM } from '../helpers/send-gateway.js';

// The outbox is the source of truth: a gateway killed mid-batch loses nothing, and one stopped with SIGTERM lets
// its sends in flight finish and leaves the rest queued. Both run the real process against the simulator.

const dir = mkdtempSync(join(tmpdir(), 'switchboard-durability-'));
const API_KEY = 'durability-test-key-0123';
const CONCURRENCY = 4;
let sim: ProviderSimulator;
let gateways: GatewayProcess[] = [];

let app: TestApp | undefined;

afterEach(async () => {
  for (const g of gateways) g.child.kill('SIGKILL');
  gateways = [];
  await sim?.close();
  await app?.close();
  app = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function gateway(
  db: string,
  port: number,
  env: Record<string, string> = {},
): Promise<{ process: GatewayProcess; base: string }> {
  const base = `http://127.0.0.1:${port}`;
  const process = startProcess({
    ...env,
    ...carrierEnv(sim),
    PORT: String(port),
    DATABASE_URL: db,
    PUBLIC_BASE_URL: base,
    SWITCHBOARD_API_KEYS: API_KEY,
    LOG_LEVEL: 'warn',
    SWITCHBOARD_CONFIG: configFile({
      providers: {
        twilio: { from: TWILIO_FROM, mps: null, concurrency: CONCURRENCY },
        telnyx: { from: TELNYX_FROM, mps: null, concurrency: CONCURRENCY },
      },
    }),
  });
  gateways.push(process);
  await waitReady(base);
  return { process, base };
}

async function postBatch(base: string, bodies: string[]): Promise<string[]> {
  const res = await fetch(`${base}/v1/messages/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: bodies.map((body) => ({ to: '+14155550123', body })) }),
  });
  expect(res.status).toBe(202);
  const payload = (await res.json()) as { data: { message: { id: string } }[] };
  return payload.data.map((d) => d.message.id);
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('durability of the outbox', () => {
  it('loses nothing when the process is killed with SIGKILL mid-batch; only in-flight sends may repeat', async () => {
    sim = await ProviderSimulator.start({
      twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN },
      callbacks: { enabled: false },
    });
    // Slow carrier: the batch is still going out when the process dies.
    sim.setFaults('twilio', { latencyMs: 50 });
    const db = join(dir, 'killed.db');
    const port = await freePort();
    const first = await gateway(db, port);
    const bodies = Array.from({ length: 200 }, (_, i) => `durable ${i}`);
    const ids = await postBatch(first.base, bodies);
    await until(() => sim.messages().length >= 20, 10_000, 'the first sends');
    first.process.child.kill('SIGKILL');
    await first.process.exited;
    const beforeRestart = sim.messages().length;
    expect(beforeRestart).toBeLessThan(200);

    sim.setFaults('twilio', { latencyMs: 0 });
    const second = await gateway(db, await freePort());
    const distinct = () => new Set(sim.messages().map((m) => m.body)).size;
    await until(() => distinct() === 200, 20_000, 'every message to reach the carrier');
    // Every message reached the carrier; only those in flight at the kill (at most the concurrency) twice.
    const counts = new Map<string, number>();
    for (const m of sim.messages()) counts.set(m.body, (counts.get(m.body) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([...bodies].sort());
    const repeated = [...counts.values()].filter((n) => n > 1).length;
    expect(repeated).toBeLessThanOrEqual(CONCURRENCY);

    second.process.child.kill('SIGTERM');
    expect(await second.process.exited).toBe(0);
    const store = await SqliteStore.open({ path: db });
    try {
      expect(await store.loadOutbox('twilio', null, 1000)).toEqual([]);
      for (const id of ids) {
        const message = await store.getMessage(id);
        expect(message?.providerMessageId, id).not.toBeNull();
      }
    } finally {
      await store.close();
    }
  });

  it('on SIGTERM lets sends in flight finish and be recorded, and leaves the rest queued for the next start', async () => {
    sim = await ProviderSimulator.start({
      twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN },
      callbacks: { enabled: false },
    });
    sim.setFaults('twilio', { latencyMs: 400 });
    const db = join(dir, 'stopped.db');
    const g = await gateway(db, await freePort());
    const ids = await postBatch(
      g.base,
      Array.from({ length: 40 }, (_, i) => `graceful ${i}`),
    );
    // Sends are in flight (the carrier takes 400 ms to answer) when the signal arrives.
    await until(() => sim.stats('twilio').requests >= CONCURRENCY, 5000, 'sends in flight');
    g.process.child.kill('SIGTERM');
    expect(await g.process.exited).toBe(0);

    const accepted = sim.messages().length;
    expect(accepted).toBeGreaterThanOrEqual(CONCURRENCY);
    const store = await SqliteStore.open({ path: db });
    try {
      const recorded = (await Promise.all(ids.map((id) => store.getMessage(id)))).filter(
        (m) => m?.providerMessageId != null,
      );
      // Every send the carrier accepted was recorded before exit; nothing else was sent or lost.
      expect(recorded.map((m) => m!.providerMessageId).sort()).toEqual(
        sim
          .messages()
          .map((m) => m.id)
          .sort(),
      );
      expect((await store.loadOutbox('twilio', null, 1000)).length).toBe(ids.length - accepted);
    } finally {
      await store.close();
    }
  });
});

describe('durability of event delivery', () => {
  it('delivers events in flight at a SIGKILL after the restart, in order, with the same webhook-id', async () => {
    sim = await ProviderSimulator.start({
      twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN },
      callbacks: { sentDelayMs: 5, deliveredDelayMs: 5 },
    });
    app = await TestApp.start();
    // The app takes the first request and never answers it: the gateway dies with it in flight.
    app.answer(() => new Promise(() => undefined));
    const secret = newSecret();
    const env = { APP_WEBHOOK_URL: `${app.url}/events`, APP_WEBHOOK_SECRET: secret };
    const db = join(dir, 'events.db');
    const first = await gateway(db, await freePort(), env);
    const injected = await sim.injectInbound({
      provider: 'twilio',
      from: '+14155550123',
      to: TWILIO_FROM,
      body: 'before the crash',
      webhookUrl: `${first.base}/webhooks`,
    });
    expect(injected.status).toBe(200);
    await app.waitFor(1);
    // More events of the same conversation wait behind the one in flight: a reply is sent and delivered.
    const res = await fetch(`${first.base}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: '+14155550123', body: 'our answer' }),
    });
    expect(res.status).toBe(202);
    await until(() => sim.messages().length === 1, 5000, 'the reply to reach the carrier');
    await sim.callbacksIdle();
    first.process.child.kill('SIGKILL');
    await first.process.exited;
    expect(app.requests).toHaveLength(1);

    app.answer(() => ({ status: 200 }));
    await gateway(db, await freePort(), env);
    await app.waitFor(5, 10_000);
    const events = app.verified(secret);
    // The first event again (at least once: same webhook-id), then the rest of the conversation in order.
    expect(events[1]!.id).toBe(events[0]!.id);
    expect(events.slice(1).map((e) => [e.type, e.data.status])).toEqual([
      ['message.received', 'received'],
      ['message.status', 'sending'],
      ['message.status', 'sent'],
      ['message.status', 'delivered'],
    ]);
  });
});
