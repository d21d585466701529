import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/db/sqlite.js';
import { ProviderSimulator } from '../../src/simulator/simulator.js';
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

afterEach(async () => {
  for (const g of gateways) g.child.kill('SIGKILL');
  gateways = [];
  await sim?.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function gateway(db: string, port: number): Promise<{ process: GatewayProcess; base: string }> {
  const base = `http://127.0.0.1:${port}`;
  const process = startProcess({
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
