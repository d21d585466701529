import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  PruneCounts,
  RedactCounts,
  ReplayKeyCounts,
  RetentionStep,
  RetentionStepResult,
  Store,
} from '../../src/core/store.js';
import type { PendingDelivery } from '../../src/core/events.js';
import { inbound, outbound, status } from './store-contract.js';

/**
 * A moment that separates what was written before the call from what is written after: every message stored
 * before it was created earlier, every one stored after it at or later. (No clock to inject: the ids are
 * time-ordered, so "created before" is what the store itself recorded.)
 */
async function cutoff(): Promise<number> {
  const t = Date.now() + 1;
  while (Date.now() <= t) await new Promise((resolve) => setTimeout(resolve, 1));
  return t;
}

const step = (before: number, overrides: Partial<RetentionStep> = {}): RetentionStep => ({
  before,
  since: null,
  afterId: null,
  limit: 100,
  dryRun: false,
  ...overrides,
});

/** Every step until done, summed. */
async function all<C>(
  run: (s: RetentionStep) => Promise<RetentionStepResult<C>>,
  first: RetentionStep,
): Promise<{ counts: C; held: number; steps: number }> {
  let afterId: string | null = null;
  const total: Record<string, number> = {};
  let held = 0;
  for (let steps = 1; ; steps++) {
    const r = await run({ ...first, afterId });
    for (const [k, v] of Object.entries(r.counts as Record<string, number>)) total[k] = (total[k] ?? 0) + v;
    held += r.held;
    if (r.done) return { counts: total as C, held, steps };
    afterId = r.lastId;
  }
}

const ALL_EVENTS = ['message.received', 'message.status', 'message.failed'] as const;

/** Retention (Store.pruneStep, Store.redactStep): what every implementation deletes, redacts and keeps. */
export function describeRetentionContract(name: string, open: () => Promise<Store> | Store): void {
  describe(`Retention contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
      await store.syncEndpoints([{ id: 'app', url: 'https://app.example/hook', events: [...ALL_EVENTS] }]);
    });
    afterEach(async () => {
      await store.close();
    });

    const prune = (s: RetentionStep) => store.pruneStep(s);
    const redact = (s: RetentionStep) => store.redactStep(s);

    /** The app endpoint's deliveries that can go now: the first pending one of each conversation. */
    const dueHeads = (exclude: number[] = []) =>
      store.loadDueDeliveries('app', Number.MAX_SAFE_INTEGER, exclude, 1000);

    async function deliver(d: PendingDelivery): Promise<void> {
      await store.recordDelivery({
        deliveryId: d.id,
        attempt: { outcome: 'delivered', statusCode: 204, error: null, startedAt: Date.now(), durationMs: 3 },
        nextAttemptAt: 0,
        disable: null,
        claimReply: null,
      });
    }

    /** Every pending delivery of the app endpoint, delivered (one attempt each), each conversation in order. */
    async function deliverAll(): Promise<number> {
      let count = 0;
      for (let due = await dueHeads(); due.length > 0; due = await dueHeads()) {
        for (const d of due) await deliver(d);
        count += due.length;
      }
      return count;
    }

    /** An outbound message sent with an Idempotency-Key, accepted by the carrier and then delivered. */
    /** @param to the recipient: its conversation (each holds its app events in order) */
    async function sentMessage(key: string, sid: string, to = '+14155550123'): Promise<string> {
      const [r] = await store.enqueue([outbound({ idempotencyKey: key, requestHash: `h-${key}`, to })]);
      const id = r!.outcome === 'stored' ? r!.message.id : '';
      await store.recordSend({
        kind: 'accepted',
        messageId: id,
        attempt: {
          provider: 'twilio',
          errorClass: null,
          errorCode: null,
          errorMessage: null,
          httpStatus: 201,
          startedAt: Date.now(),
          durationMs: 5,
        },
        providerMessageId: sid,
        providerStatus: 'queued',
        from: null,
      });
      await store.ingest([{ event: status(sid, 'delivered'), optOut: null }]);
      return id;
    }

    const eventsOf = async (messageId: string) => (await store.listEvents({ messageId }, { limit: 50 })).data;

    it('deletes what was created before the cutoff with everything that hangs off it, and keeps the rest', async () => {
      const [oldIn] = await store.ingest([{ event: inbound({ body: 'old' }), optOut: null }]);
      const oldOut = await sentMessage('campaign:1', 'SMold');
      const [stop] = await store.ingest([
        { event: inbound({ from: '+14155550177', body: 'STOP' }), optOut: 'add' },
      ]);
      const oldEvents = [
        ...(await eventsOf(oldIn!.messageId)),
        ...(await eventsOf(oldOut)),
        ...(await eventsOf(stop!.messageId)),
      ];
      expect(oldEvents).toHaveLength(4); // received, sending, delivered, received
      expect(await deliverAll()).toBe(4);
      const before = await cutoff();
      const [newIn] = await store.ingest([{ event: inbound({ body: 'new' }), optOut: null }]);
      await deliverAll();

      const { counts } = await all(prune, step(before));
      expect(counts).toEqual({
        messages: 3,
        history: 3, // two inbound `received`, the outbound's `delivered` receipt
        sendAttempts: 1,
        idempotencyKeys: 1,
        events: 4,
        deliveries: 4,
        deliveryAttempts: 4,
      } satisfies PruneCounts);
      for (const id of [oldIn!.messageId, oldOut, stop!.messageId])
        expect(await store.getMessage(id)).toBeNull();
      for (const e of oldEvents) expect(await store.getEvent(e.id)).toBeNull();
      // The newer message and its event stay; the opt-out stays (opt-outs are never deleted).
      expect(await store.getMessage(newIn!.messageId)).toMatchObject({ body: 'new' });
      expect(await eventsOf(newIn!.messageId)).toHaveLength(1);
      expect(await store.isOptedOut('+14155550177', '+14155550100')).toBe(true);
      // The idempotency key went with its message: the same key makes a new message now.
      const [again] = await store.enqueue([
        outbound({ idempotencyKey: 'campaign:1', requestHash: 'h-other' }),
      ]);
      expect(again!.outcome).toBe('stored');
      // Nothing left to do.
      expect((await all(prune, step(before))).counts.messages).toBe(0);
    });

    it('never deletes a message still in the outbox, nor an event pending delivery with its message', async () => {
      const [q] = await store.enqueue([outbound({ body: 'still queued' })]);
      const queued = q!.outcome === 'stored' ? q!.message.id : '';
      const [waiting] = await store.ingest([
        { event: inbound({ body: 'app has not got it yet' }), optOut: null },
      ]);
      // An outbound message whose `sending` event was delivered and whose `delivered` event is still pending.
      // Each in a conversation of its own, so that one held delivery does not hold up the others.
      const partly = await sentMessage('k-partly', 'SMpartly', '+14155550124');
      const sending = (await eventsOf(partly)).at(-1)!; // newest first: `sending`, then `delivered`
      const ofSending = (await dueHeads()).find((d) => d.eventId === sending.id)!;
      await store.recordDelivery({
        deliveryId: ofSending.id,
        attempt: { outcome: 'delivered', statusCode: 200, error: null, startedAt: Date.now(), durationMs: 1 },
        nextAttemptAt: 0,
        disable: null,
        claimReply: null,
      });
      // An old message with a newer event: a late receipt after the cutoff.
      const late = await sentMessage('k-late', 'SMlate', '+14155550125');
      await deliverAllExcept([waiting!.messageId, partly]);
      const before = await cutoff();
      await store.ingest([{ event: status('SMlate', 'read'), optOut: null }]);

      const first = await store.pruneStep(step(before));
      expect(first.done).toBe(true);
      expect(first.held).toBe(4);
      expect(first.firstHeldId).toBe(queued);
      // Only the settled old events of the kept messages went.
      expect(first.counts).toMatchObject({ messages: 0, events: 3, sendAttempts: 0, idempotencyKeys: 0 });
      expect(await store.loadOutbox('twilio', null, 10)).toEqual([
        expect.objectContaining({ messageId: queued, body: 'still queued' }),
      ]);
      expect(await store.getMessage(waiting!.messageId)).toMatchObject({ body: 'app has not got it yet' });
      expect(await eventsOf(waiting!.messageId)).toHaveLength(1);
      expect((await eventsOf(partly)).map((e) => e.id)).not.toContain(sending.id);
      expect(await eventsOf(partly)).toHaveLength(1); // the pending one
      expect(await store.getMessage(partly)).toMatchObject({ attempts: [{ outcome: 'accepted' }] });
      expect((await eventsOf(late)).map((e) => e.type)).toEqual(['message.status']); // the newer `read`
      expect(await store.getMessage(late)).toMatchObject({ status: 'read' });

      // Once the apps have their events, the old messages go (the queued one and the late one's stay).
      await deliverAll();
      const second = await all(prune, step(before));
      expect(second.counts.messages).toBe(2);
      expect(await store.getMessage(waiting!.messageId)).toBeNull();
      expect(await store.getMessage(partly)).toBeNull();
      expect(await store.getMessage(queued)).not.toBeNull();
      expect(await store.getMessage(late)).not.toBeNull();

      async function deliverAllExcept(messageIds: string[]): Promise<void> {
        const held: number[] = [];
        for (let due = await dueHeads(held); due.length > 0; due = await dueHeads(held)) {
          for (const d of due) {
            if (messageIds.includes(d.messageId)) held.push(d.id);
            else await deliver(d);
          }
        }
      }
    });

    it('deletes an event whose deliveries are dead or delivered, but keeps one with any delivery pending', async () => {
      const [m] = await store.ingest([{ event: inbound(), optOut: null }]);
      const [event] = await eventsOf(m!.messageId);
      const [delivery] = await dueHeads();
      await store.recordDelivery({
        deliveryId: delivery!.id,
        attempt: { outcome: 'dead', statusCode: 500, error: 'gave up', startedAt: Date.now(), durationMs: 1 },
        nextAttemptAt: 0,
        disable: null,
        claimReply: null,
      });
      // Redelivered by an operator: a new pending delivery of the same event.
      await store.redeliver(event!.id, 'app');
      const before = await cutoff();
      const held = await store.pruneStep(step(before));
      expect(held).toMatchObject({ held: 1, counts: { messages: 0, events: 0, deliveries: 0 } });
      expect((await store.getEvent(event!.id))!.deliveries).toHaveLength(2);
      await deliverAll();
      const done = await store.pruneStep(step(before));
      expect(done.counts).toMatchObject({ messages: 1, events: 1, deliveries: 2, deliveryAttempts: 2 });
    });

    it('works in steps of at most `limit` messages, continuing after `lastId`', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push((await store.ingest([{ event: inbound(), optOut: null }]))[0]!.messageId);
      await deliverAll();
      const before = await cutoff();
      const a = await store.pruneStep(step(before, { limit: 2 }));
      expect(a).toMatchObject({ done: false, lastId: ids[1], counts: { messages: 2 } });
      const b = await store.pruneStep(step(before, { limit: 2, afterId: a.lastId }));
      expect(b).toMatchObject({ done: false, lastId: ids[3], counts: { messages: 2 } });
      const c = await store.pruneStep(step(before, { limit: 2, afterId: b.lastId }));
      expect(c).toMatchObject({ done: true, lastId: ids[4], counts: { messages: 1 } });
      expect((await store.listMessages({}, { limit: 10 })).data).toHaveLength(0);
    });

    it('counts without changing anything in a dry run, exactly what the real run then does', async () => {
      await sentMessage('k-dry', 'SMdry');
      await store.ingest([
        { event: inbound({ media: [{ url: 'https://m.example/1.jpg', contentType: null }] }), optOut: null },
      ]);
      await deliverAll();
      const before = await cutoff();
      const dryPrune = await all(prune, step(before, { dryRun: true }));
      const dryRedact = await all(redact, step(before, { dryRun: true }));
      expect(dryPrune.counts.messages).toBe(2);
      // The sent message's idempotency key goes with its body.
      expect(dryRedact.counts).toEqual({ messages: 2, events: 3, idempotencyKeys: 1 } satisfies RedactCounts);
      const listed = (await store.listMessages({}, { limit: 10 })).data;
      expect(listed).toHaveLength(2);
      expect(listed.every((m) => m.redactedAt === null && m.body !== '')).toBe(true);
      expect((await all(redact, step(before))).counts).toEqual(dryRedact.counts);
      // The redaction took the sent message's idempotency key with its body: the rest is as counted.
      expect((await all(prune, step(before))).counts).toEqual({ ...dryPrune.counts, idempotencyKeys: 0 });
    });

    it('forgets replay keys remembered before the cutoff, oldest first in steps, a dry run changing nothing', async () => {
      const replayKeys = (s: RetentionStep) => store.pruneReplayKeys(s);
      /** Whether `key` is still remembered: new events under it are refused. */
      const remembered = (key: string) =>
        store.ingest([{ event: inbound(), optOut: null }], key).then(
          () => false,
          (err: unknown) => {
            if ((err as { code?: string }).code === 'signature_replayed') return true;
            throw err;
          },
        );
      for (const key of ['a', 'b', 'c'])
        await store.ingest([{ event: inbound(), optOut: null }], `twilio ${key}`);
      const before = await cutoff();
      await store.ingest([{ event: inbound(), optOut: null }], 'twilio new');

      const dry = await all(replayKeys, step(before, { limit: 2, dryRun: true }));
      expect(dry).toMatchObject({ counts: { replayKeys: 3 } satisfies ReplayKeyCounts, held: 0, steps: 2 });
      expect(await remembered('twilio a')).toBe(true);

      const first = await replayKeys(step(before, { limit: 2 }));
      expect(first).toMatchObject({ counts: { replayKeys: 2 }, done: false });
      const rest = await replayKeys(step(before, { limit: 2, afterId: first.lastId }));
      expect(rest).toMatchObject({ counts: { replayKeys: 1 }, done: true });
      expect(await remembered('twilio new')).toBe(true);
      // Forgotten: the key is taken again (and remembered anew) by the next webhook that carries it.
      expect(await remembered('twilio b')).toBe(false);
      expect(await remembered('twilio b')).toBe(true);
      expect((await replayKeys(step(before))).counts.replayKeys).toBe(0);
    });

    it('redacts bodies and media, in the message and in its stored events, and marks it redacted', async () => {
      const media = [{ url: 'https://m.example/secret.jpg', contentType: 'image/jpeg' }];
      const [old] = await store.ingest([
        { event: inbound({ body: 'my PIN is 1234', media, channel: 'mms' }), optOut: null },
      ]);
      const [oldEvent] = await eventsOf(old!.messageId);
      const [q] = await store.enqueue([outbound({ body: 'not sent yet' })]);
      const queued = q!.outcome === 'stored' ? q!.message.id : '';
      await deliverAll();
      const [waiting] = await store.ingest([
        { event: inbound({ body: 'app has not got it' }), optOut: null },
      ]);
      const before = await cutoff();
      const [fresh] = await store.ingest([{ event: inbound({ body: 'new' }), optOut: null }]);

      const result = await all(redact, step(before));
      expect(result.counts).toEqual({ messages: 1, events: 1, idempotencyKeys: 0 } satisfies RedactCounts);
      expect(result.held).toBe(2);
      const redacted = await store.getMessage(old!.messageId);
      expect(redacted).toMatchObject({ body: '', media: [], channel: 'mms', from: '+14155550123' });
      expect(Date.parse(redacted!.redactedAt!)).toBeGreaterThanOrEqual(before);
      expect((await store.getEvent(oldEvent!.id))!.payload.data).toMatchObject({
        id: old!.messageId,
        body: '',
        media: [],
        redactedAt: redacted!.redactedAt,
      });
      // Waiting to go out, or to reach an app, or newer: untouched.
      expect((await store.loadOutbox('twilio', null, 10))[0]).toMatchObject({
        messageId: queued,
        body: 'not sent yet',
      });
      expect(await store.getMessage(waiting!.messageId)).toMatchObject({
        body: 'app has not got it',
        redactedAt: null,
      });
      expect(await store.getMessage(fresh!.messageId)).toMatchObject({ body: 'new', redactedAt: null });
      // Done once: a second pass changes nothing (and keeps the first time).
      expect((await all(redact, step(before))).counts).toEqual({
        messages: 0,
        events: 0,
        idempotencyKeys: 0,
      });
      expect((await store.getMessage(old!.messageId))!.redactedAt).toBe(redacted!.redactedAt);
    });

    it("deletes a redacted message's idempotency keys (their request hash covers the body), not a held one's", async () => {
      const secret = await sentMessage('key:app:api:otp-1', 'SMotp', '+14155550131');
      const [q] = await store.enqueue([
        outbound({ idempotencyKey: 'key:app:api:queued', body: 'not sent yet' }),
      ]);
      const queued = q!.outcome === 'stored' ? q!.message.id : '';
      const [reply] = await store.enqueue([
        outbound({ idempotencyKey: 'reply:inbound-1', to: '+14155550132' }),
      ]);
      const replied = reply!.outcome === 'stored' ? reply!.message.id : '';
      await store.recordSend({
        kind: 'failed',
        messageId: replied,
        attempt: {
          provider: 'twilio',
          errorClass: 'recipient',
          errorCode: '21211',
          errorMessage: 'invalid',
          httpStatus: 400,
          startedAt: Date.now(),
          durationMs: 1,
        },
        optOut: false,
      });
      await deliverAll();
      const before = await cutoff();
      const keys = ['key:app:api:otp-1', 'key:app:api:queued', 'reply:inbound-1'];
      expect(await store.existingIdempotencyKeys(keys)).toEqual(keys);

      const result = await all(redact, step(before));
      expect(result.counts).toMatchObject({ messages: 2, idempotencyKeys: 2 });
      expect(await store.existingIdempotencyKeys(keys)).toEqual(['key:app:api:queued']);
      expect(await store.getMessage(secret)).toMatchObject({ body: '' });
      expect(await store.getMessage(replied)).toMatchObject({ body: '' });
      expect(await store.getMessage(queued)).toMatchObject({ body: 'not sent yet', redactedAt: null });
      // The key no longer matches: the same key is a new request now (the one it stood for is gone).
      const [again] = await store.enqueue([
        outbound({ idempotencyKey: 'key:app:api:otp-1', requestHash: 'h-key:app:api:otp-1' }),
      ]);
      expect(again!.outcome).toBe('stored');
    });

    it('keeps a message a carrier reported on after the cutoff, with or without an app endpoint, until that is old too', async () => {
      // No endpoint: no app events at all, so only the carrier's own events can say the message is live.
      await store.syncEndpoints([]);
      const late = await sentMessage('k-late', 'SMlate', '+14155550141');
      const settled = await sentMessage('k-settled', 'SMsettled', '+14155550142');
      const before = await cutoff();
      // The carrier's receipt comes after the cutoff (a late `read`).
      await store.ingest([{ event: status('SMlate', 'read'), optOut: null }]);

      const redacted = await all(redact, step(before));
      expect(redacted).toMatchObject({ held: 1, counts: { messages: 1 } });
      const pruned = await all(prune, step(before));
      expect(pruned).toMatchObject({ held: 1, counts: { messages: 1, history: 1 } });
      expect(await store.getMessage(settled)).toBeNull();
      const kept = await store.getMessage(late);
      expect(kept).toMatchObject({
        status: 'read',
        body: expect.stringMatching(/^message /),
        redactedAt: null,
      });
      expect(kept!.events.map((e) => e.status)).toEqual(['queued', 'delivered', 'read']);
      // A later receipt still finds it: no second message made from the callback.
      await store.ingest([{ event: status('SMlate', 'read'), optOut: null }]);
      expect((await store.listMessages({}, { limit: 10 })).data.map((m) => m.id)).toEqual([late]);

      // Once the late receipt is older than the cutoff too, the message goes like any other.
      const later = await cutoff();
      expect((await all(redact, step(later))).counts.messages).toBe(1);
      expect((await all(prune, step(later))).counts.messages).toBe(1);
      expect(await store.getMessage(late)).toBeNull();
    });

    it('does not redact a message whose app event was made after the cutoff, even once delivered', async () => {
      const late = await sentMessage('k-late-app', 'SMlateapp', '+14155550143');
      await deliverAll();
      const before = await cutoff();
      await store.ingest([{ event: status('SMlateapp', 'read'), optOut: null }]);
      await deliverAll(); // nothing pending: only the newer events hold it
      expect(await all(redact, step(before))).toMatchObject({ held: 1, counts: { messages: 0 } });
      expect(await store.getMessage(late)).toMatchObject({ redactedAt: null });
    });

    it('looks only at messages created since `since`', async () => {
      const [older] = await store.ingest([{ event: inbound({ body: 'older' }), optOut: null }]);
      const since = await cutoff();
      const [recent] = await store.ingest([{ event: inbound({ body: 'recent' }), optOut: null }]);
      await deliverAll();
      const before = await cutoff();
      expect((await all(redact, step(before, { since }))).counts.messages).toBe(1);
      expect(await store.getMessage(older!.messageId)).toMatchObject({ body: 'older' });
      expect(await store.getMessage(recent!.messageId)).toMatchObject({ body: '' });
    });
  });
}
