import { afterEach, describe, expect, it } from 'vitest';
import { EventDeliverer } from '../../src/events/deliverer.js';
import { SqliteStore } from '../../src/db/sqlite.js';
import { TestApp, newSecret } from '../helpers/app-server.js';
import { inbound, outbound, status } from '../db/store-contract.js';

// The deliverer on a real store and a real app, driven where the gateway cannot be driven on cue: a write made by
// another part (a message folded into another) under a delivery the deliverer holds.

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
