import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { STATUS_CALLBACK_ENDPOINT } from '../../src/core/events.js';
import { EventDeliverer } from '../../src/events/deliverer.js';
import { SqliteStore } from '../../src/db/sqlite/sqlite.js';
import { TestApp, newSecret } from '../helpers/app-server.js';
import { inbound, outbound, status } from '../db/store-contract.js';

// The deliverer on a real store and a real app, driven where the gateway cannot be driven on cue: a write made by
// another part (a message folded into another) under a delivery the deliverer holds; memory and request slots made
// tiny, so that "more than memory" is a few dozen messages.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('EventDeliverer', () => {
  it('goes on with the next event when the one waiting for a retry is deleted with its message', async () => {
    const app = await TestApp.start();
    cleanups.push(() => app.close());
    const store = await SqliteStore.open({ path: ':memory:' });
    cleanups.push(() => store.close());
    const secret = Buffer.from(newSecret().slice('whsec_'.length), 'base64');
    const endpoint = {
      id: 'app',
      url: `${app.url}/events`,
      events: ['message.received' as const, 'message.status' as const],
    };
    await store.syncEndpoints([endpoint]);
    const deliverer = new EventDeliverer({
      store,
      endpoints: [{ ...endpoint, secrets: [secret], concurrency: 4 }],
      retryScheduleMs: [3_600_000],
      timeoutMs: 2000,
      replies: { endpointId: null, queue: { queueReply: async () => ({ outcome: 'stored', reason: null }) } },
      log: silent,
      pollMs: 100,
    });
    deliverer.start(new Map([['app', true]]));
    cleanups.push(() => deliverer.stop(100));
    app.answer((req) => (req.body.includes('"status":"sent"') ? { status: 503 } : { status: 200 }));

    // A carrier's receipt that beat the send result: a message of its own for now; its event waits an hour.
    await store.ingest([{ event: status('SMfolded', 'sent'), optOut: null }]);
    await app.waitFor(1);
    // The same person writes: that event waits behind it.
    const [behind] = await store.ingest([{ event: inbound({ from: '+14155550123' }), optOut: null }]);
    await new Promise((r) => setTimeout(r, 300));
    expect(app.requests).toHaveLength(1);
    // The send result folds the early message into the sent one; its waiting event goes with it.
    const [queued] = await store.enqueue([outbound({ to: '+14155550123' })]);
    await store.recordSend({
      kind: 'accepted',
      messageId: queued!.outcome === 'stored' ? queued!.message.id : '',
      attempt: {
        provider: 'twilio',
        errorClass: null,
        errorCode: null,
        errorMessage: null,
        httpStatus: null,
        startedAt: Date.now(),
        durationMs: 1,
      },
      providerMessageId: 'SMfolded',
      providerStatus: 'queued',
      from: null,
    });
    // The next event of the conversation goes at once, not after the deleted one's hour.
    const requests = await app.waitFor(2, 10_000);
    expect(JSON.parse(requests[1]!.body).data.id).toBe(behind!.messageId);
  });
});

/** A host that accepts connections and never answers; `connections` counts those it was given. */
async function blackhole(): Promise<{ port: number; connections: () => number }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

/** A message sent by API key `createdBy` with a status callback, accepted by the carrier (one callback event). */
async function sentWithCallback(
  store: SqliteStore,
  createdBy: string | null,
  statusCallback: string,
  n: number,
): Promise<void> {
  const [queued] = await store.enqueue([
    outbound({ statusCallback, createdBy, to: `+1415555${String(1000 + n)}` }),
  ]);
  await store.recordSend({
    kind: 'accepted',
    messageId: queued!.outcome === 'stored' ? queued!.message.id : '',
    attempt: {
      provider: 'twilio',
      errorClass: null,
      errorCode: null,
      errorMessage: null,
      httpStatus: null,
      startedAt: Date.now(),
      durationMs: 1,
    },
    providerMessageId: `SMlane${n}`,
    providerStatus: 'queued',
    from: null,
  });
}

describe('EventDeliverer: clients’ status callbacks', () => {
  async function callbackDeliverer(timeoutMs: number) {
    const store = await SqliteStore.open({ path: ':memory:' });
    cleanups.push(() => store.close());
    const endpoint = {
      id: STATUS_CALLBACK_ENDPOINT,
      url: 'http://unused.invalid/',
      events: ['message.status' as const, 'message.failed' as const],
    };
    await store.syncEndpoints([endpoint]);
    const secret = Buffer.from(newSecret().slice('whsec_'.length), 'base64');
    // Small numbers standing for the defaults (capacity 10,000, 16 slots, 10 s timeout).
    const deliverer = new EventDeliverer({
      store,
      endpoints: [{ ...endpoint, secrets: [secret], concurrency: 4 }],
      retryScheduleMs: [3_600_000],
      timeoutMs,
      replies: { endpointId: null, queue: { queueReply: async () => ({ outcome: 'stored', reason: null }) } },
      log: silent,
      pollMs: 100,
      capacity: 6,
    });
    return {
      store,
      deliverer,
      start: () => {
        deliverer.start(new Map([[STATUS_CALLBACK_ENDPOINT, true]]));
        cleanups.push(() => deliverer.stop(100));
      },
    };
  }

  it('one client’s silent host, with ten times more messages than memory, holds up no other client’s callback', async () => {
    const good = await TestApp.start();
    cleanups.push(() => good.close());
    const hole = await blackhole();
    const { store, deliverer, start } = await callbackDeliverer(4_000);
    // Client A's campaign: 60 messages whose callback host never answers, sent first (first in due order).
    for (let i = 0; i < 60; i += 1)
      await sentWithCallback(store, 'key-a', `http://127.0.0.1:${hole.port}/cb`, i);
    // Client B's message, its callback on a healthy host.
    await sentWithCallback(store, 'key-b', `${good.url}/cb`, 99);
    const started = performance.now();
    start();
    await good.waitFor(1, 10_000);
    // Before the first of A's 4 s timeouts freed anything (it took 4 s per 2 of A's callbacks before: minutes).
    expect(performance.now() - started).toBeLessThan(3_500);
    // A has half the request slots, and half the memory (3 of 6 heads), however many messages it has.
    expect(hole.connections()).toBe(2);
    // (B's own head too, until its record is written.)
    expect(deliverer.stats().get(STATUS_CALLBACK_ENDPOINT)!.pending).toBeLessThanOrEqual(3 + 1);
  });

  it('clients filling memory between them leave every other client a few heads', async () => {
    const good = await TestApp.start();
    cleanups.push(() => good.close());
    const hole = await blackhole();
    const { store, deliverer, start } = await callbackDeliverer(2_000);
    // Three clients of silent callbacks, each with more messages than the whole memory.
    for (const key of ['key-a', 'key-b', 'key-c']) {
      for (let i = 0; i < 20; i += 1) {
        await sentWithCallback(
          store,
          key,
          `http://127.0.0.1:${hole.port}/${key}`,
          i + 100 * key.charCodeAt(4),
        );
      }
    }
    // Messages sent before API keys were recorded (no key): one lane of their own.
    await sentWithCallback(store, null, `${good.url}/cb`, 999);
    start();
    // Each silent client holds its 3 heads (two of them hold every slot); the fourth lane still has its head, and
    // goes when the first slot frees (one 2 s timeout), not after the 60 silent callbacks (30 timeouts' worth).
    await good.waitFor(1, 6_000);
    const { pending } = deliverer.stats().get(STATUS_CALLBACK_ENDPOINT)!;
    // Bounded by lanes: half the capacity each at most.
    expect(pending).toBeLessThanOrEqual(3 * 3 + 1);
    expect(hole.connections()).toBeGreaterThanOrEqual(4);
  });
});
