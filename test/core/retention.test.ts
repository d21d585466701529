import { afterEach, describe, expect, it } from 'vitest';
import { Retention, type RetentionReport } from '../../src/core/retention.js';
import { SqliteStore } from '../../src/db/sqlite/sqlite.js';
import { inbound, outbound } from '../db/store-contract.js';

// The retention loop (core/retention.ts) over the real SQLite store: a backlog goes in many small transactions
// with the live traffic's writes in between, stops cleanly, and a periodic pass does not walk the history again.

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let store: SqliteStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

/** `count` inbound messages, stored in a few big transactions. */
async function backlog(s: SqliteStore, count: number): Promise<void> {
  for (let made = 0; made < count; made += 500) {
    const items = Array.from({ length: Math.min(500, count - made) }, () => ({
      event: inbound(),
      optOut: null,
    }));
    await s.ingest(items);
  }
}

/** A wall clock reading after every write so far: the cutoff of "everything until now". */
async function afterNow(): Promise<number> {
  const t = Date.now() + 1;
  while (Date.now() <= t) await new Promise((resolve) => setTimeout(resolve, 1));
  return t;
}

describe('Retention', () => {
  it('prunes a large backlog in many small transactions, letting a concurrent write through meanwhile', async () => {
    store = await SqliteStore.open({ path: ':memory:' });
    await backlog(store, 1_500);
    const cutoff = await afterNow();
    const retention = new Retention({
      store,
      policy: { deleteAfterMs: 1_000, redactAfterMs: null },
      log: quiet,
      stepSize: 50,
      now: () => cutoff + 1_000,
    });
    let report: RetentionReport | null = null;
    const running = retention.run().then((r) => (report = r));
    // Live traffic arriving while the prune runs gets its own commit in between, not after the whole backlog.
    const [live] = await store.ingest([{ event: inbound({ body: 'live' }), optOut: null }]);
    expect(report).toBeNull();
    await running;
    expect(report).toMatchObject({ complete: true, deleted: { messages: 1_500, history: 1_500 } });
    // 1,500 messages at 50 per step: 30 steps, and one that finds the range empty; one for the (no) signatures.
    expect(report!.steps).toBe(32);
    expect((await store.listMessages({}, { limit: 10 })).data.map((m) => m.id)).toEqual([live!.messageId]);
  });

  it('forgets the webhook signatures remembered before the cutoff, in steps of their own', async () => {
    store = await SqliteStore.open({ path: ':memory:' });
    for (let i = 0; i < 120; i++) await store.ingest([{ event: inbound(), optOut: null }], `twilio old-${i}`);
    const cutoff = await afterNow();
    await store.ingest([{ event: inbound(), optOut: null }], 'twilio new');
    const retention = new Retention({
      store,
      policy: { deleteAfterMs: 1_000, redactAfterMs: null },
      log: quiet,
      stepSize: 5,
      now: () => cutoff + 1_000,
    });
    const dry = await retention.run({ dryRun: true });
    expect(dry.deleted).toMatchObject({ messages: 120, replayKeys: 120 });
    const report = await retention.run();
    expect(report.deleted).toMatchObject({ messages: 120, replayKeys: 120 });
    // 120 messages at 5 per step (24, and one finding the range empty); 120 keys at 50 per step (3).
    expect(report.steps).toBe(25 + 3);
    const replayed = (key: string) =>
      store!.ingest([{ event: inbound(), optOut: null }], key).then(
        () => 'stored',
        (err: { code?: string }) => err.code,
      );
    expect(await replayed('twilio old-7')).toBe('stored');
    expect(await replayed('twilio new')).toBe('signature_replayed');
  });

  it('stops after the step in progress, keeping what it has not reached', async () => {
    store = await SqliteStore.open({ path: ':memory:' });
    await backlog(store, 500);
    const cutoff = await afterNow();
    const retention = new Retention({
      store,
      policy: { deleteAfterMs: 1_000, redactAfterMs: null },
      log: quiet,
      stepSize: 50,
      now: () => cutoff + 1_000,
    });
    const running = retention.run();
    await retention.stop();
    const report = await running;
    expect(report).toMatchObject({ complete: false, steps: 1, deleted: { messages: 50 } });
    expect((await store.listMessages({}, { limit: 1000 })).data).toHaveLength(450);
  });

  it('starts a later pass where the last one had to leave a message, not at the oldest again', async () => {
    store = await SqliteStore.open({ path: ':memory:' });
    await backlog(store, 300);
    const [q] = await store.enqueue([outbound({ body: 'waiting in the outbox' })]);
    const queued = q!.outcome === 'stored' ? q!.message.id : '';
    await backlog(store, 300);
    let now = (await afterNow()) + 1_000;
    const retention = new Retention({
      store,
      policy: { deleteAfterMs: null, redactAfterMs: 1_000 },
      log: quiet,
      stepSize: 50,
      now: () => now,
    });
    const first = await retention.run();
    expect(first).toMatchObject({ redacted: { messages: 600 }, held: { prune: 0, redact: 1 }, steps: 13 });
    // Newer messages age; the queued one goes out meanwhile.
    await backlog(store, 100);
    await store.recordSend({
      kind: 'accepted',
      messageId: queued,
      attempt: {
        provider: 'twilio',
        errorClass: null,
        errorCode: null,
        errorMessage: null,
        httpStatus: 201,
        startedAt: Date.now(),
        durationMs: 1,
      },
      providerMessageId: 'SMlater',
      providerStatus: 'queued',
      from: null,
    });
    now = (await afterNow()) + 1_000;
    const second = await retention.run();
    // From the step where the queued message was (messages 251-300), not from the first message.
    expect(second.redacted.messages).toBe(101);
    expect(second.steps).toBeLessThanOrEqual(9);
    expect(await store.getMessage(queued)).toMatchObject({ body: '' });
  });

  it('does nothing, and starts no timer, when the policy keeps everything', () => {
    const retention = new Retention({
      store: {
        pruneStep: () => Promise.reject(new Error('not expected')),
        redactStep: () => Promise.reject(new Error('not expected')),
        pruneReplayKeys: () => Promise.reject(new Error('not expected')),
      },
      policy: { deleteAfterMs: null, redactAfterMs: null },
      log: quiet,
    });
    expect(retention.enabled).toBe(false);
    retention.start();
    return retention.stop();
  });

  it('refuses a step size that is not a positive integer', () => {
    const make = (stepSize: number) => () =>
      new Retention({
        store: {
          pruneStep: () => Promise.reject(new Error()),
          redactStep: () => Promise.reject(new Error()),
          pruneReplayKeys: () => Promise.reject(new Error()),
        },
        policy: { deleteAfterMs: 1, redactAfterMs: null },
        log: quiet,
        stepSize,
      });
    expect(make(0)).toThrow('Expected `stepSize` to be a positive integer, got 0');
    expect(make(2.5)).toThrow(TypeError);
  });
});
