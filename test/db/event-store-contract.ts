import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SwitchboardError } from '../../src/core/errors.js';
import type { EventStore, LaneAllowance } from '../../src/core/events.js';
import type { Store } from '../../src/core/store.js';
import { until } from '../helpers/wait.js';
import { inbound, outbound, status } from './store-contract.js';

const hasCode = (code: string) => (err: unknown) => err instanceof SwitchboardError && err.code === code;

/** The event side of the Store contract: what every implementation must do with events and deliveries. */
export function describeEventStoreContract(name: string, open: () => Promise<Store> | Store): void {
  describe(`Event store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
      await store.syncEndpoints([
        {
          id: 'all',
          url: 'https://app.example/all',
          events: ['message.received', 'message.status', 'message.failed'],
        },
        { id: 'inbox', url: 'https://app.example/in', events: ['message.received'] },
      ]);
    });
    afterEach(async () => {
      await store.close();
    });

    /** An endpoint's pending deliveries, in id order: (event id, delivery) from the events API's read. */
    const pendingOf = async (endpointId: string) => {
      const { data } = await store.listEvents({ endpointId, state: 'pending' }, { limit: 200 });
      const details = await Promise.all(data.map((e) => store.getEvent(e.id)));
      return details
        .flatMap((e) =>
          e!.deliveries
            .filter((d) => d.endpointId === endpointId && d.state === 'pending')
            .map((d) => ({ ...d, eventId: e!.id, type: e!.type, messageId: e!.messageId })),
        )
        .sort((a, b) => a.id - b.id);
    };
    /** What the deliverer can send now on the endpoint. */
    const dueOf = (endpointId: string, now = Date.now(), exclude: number[] = [], limit = 100) =>
      store.loadDueDeliveries(endpointId, now, exclude, limit);

    it('stores an event with each change, with a delivery per endpoint whose filter takes it', async () => {
      const [received] = await store.ingest([{ event: inbound({ body: 'hi' }), optOut: null }]);
      const [queued] = await store.enqueue([outbound({ createdBy: 'key-a' })]);
      const outId = queued!.outcome === 'stored' ? queued!.message.id : '';
      // Creating a queued message is the app's own doing: no event.
      expect((await store.listEvents({}, { limit: 10 })).data).toHaveLength(1);
      await store.recordSend({
        kind: 'accepted',
        messageId: outId,
        attempt: attemptRecord(),
        providerMessageId: 'SMout1',
        providerStatus: 'queued',
        from: null,
      });
      await store.ingest([{ event: status('SMout1', 'delivered'), optOut: null }]);
      // A late `sent` moves nothing: no event. A duplicate: no event.
      await store.ingest([{ event: status('SMout1', 'sent'), optOut: null }]);
      await store.ingest([{ event: status('SMout1', 'delivered', { dedupeKey: 'dup' }), optOut: null }]);
      await store.ingest([{ event: status('SMout1', 'delivered', { dedupeKey: 'dup' }), optOut: null }]);

      const events = (await store.listEvents({}, { limit: 10 })).data.reverse();
      expect(events.map((e) => [e.type, e.messageId])).toEqual([
        ['message.received', received!.messageId],
        ['message.status', outId],
        ['message.status', outId],
      ]);
      const detail = await store.getEvent(events[2]!.id);
      expect(detail!.payload).toMatchObject({
        id: events[2]!.id,
        type: 'message.status',
        data: { id: outId, status: 'delivered', providerMessageId: 'SMout1' },
      });
      // Which API key sent the message comes with the event (the API decides from it what the reader may see),
      // never inside the payload that endpoints are sent.
      expect(detail!.messageCreatedBy).toBe('key-a');
      expect(detail!.payload.data).not.toHaveProperty('createdBy');
      expect((await store.getEvent(events[0]!.id))!.messageCreatedBy).toBeNull();
      expect((await pendingOf('all')).map((d) => d.eventId)).toEqual(events.map((e) => e.id));
      // All three are one conversation (+14155550123): only the first can be sent.
      expect((await dueOf('all')).map((d) => [d.eventId, d.type, d.conversation])).toEqual([
        [events[0]!.id, 'message.received', '+14155550123'],
      ]);
      expect((await dueOf('inbox')).map((d) => [d.eventId, d.type, d.conversation])).toEqual([
        [events[0]!.id, 'message.received', '+14155550123'],
      ]);
    });

    it('stores no event that no endpoint (enabled or not) takes', async () => {
      await store.syncEndpoints([
        { id: 'inbox', url: 'https://app.example/in', events: ['message.received'] },
      ]);
      await store.setEndpointEnabled('inbox', false, 'paused');
      await store.ingest([{ event: inbound(), optOut: null }]);
      await store.ingest([{ event: status('SMnobody', 'sent'), optOut: null }]);
      // The disabled endpoint takes message.received: kept for a replay. Nobody takes message.status.
      expect((await store.listEvents({}, { limit: 10 })).data.map((e) => e.type)).toEqual([
        'message.received',
      ]);
      await store.syncEndpoints([]);
      await store.ingest([{ event: inbound(), optOut: null }]);
      expect((await store.listEvents({}, { limit: 10 })).data).toHaveLength(1);
    });

    it('makes a failure message.failed', async () => {
      const [q] = await store.enqueue([outbound()]);
      const id = q!.outcome === 'stored' ? q!.message.id : '';
      await store.recordSend({
        kind: 'failed',
        messageId: id,
        attempt: { ...attemptRecord(), errorClass: 'recipient', errorCode: '21211' },
        optOut: false,
      });
      const { data } = await store.listEvents({ type: 'message.failed' }, { limit: 10 });
      expect(data.map((e) => e.messageId)).toEqual([id]);
    });

    it('keeps an endpoint disabled across syncs; a disabled endpoint gets no new deliveries', async () => {
      expect(await store.setEndpointEnabled('inbox', false, 'testing')).toMatchObject({
        id: 'inbox',
        enabled: false,
        disabledReason: 'testing',
      });
      await store.ingest([{ event: inbound(), optOut: null }]);
      expect(await pendingOf('inbox')).toHaveLength(0);
      expect(await pendingOf('all')).toHaveLength(1);
      const synced = await store.syncEndpoints([
        { id: 'inbox', url: 'https://app.example/moved', events: ['message.received'] },
      ]);
      // `all` is no longer configured and is gone; `inbox` took its new URL and stayed disabled.
      expect(synced).toEqual([
        expect.objectContaining({ id: 'inbox', url: 'https://app.example/moved', enabled: false }),
      ]);
      expect(await store.setEndpointEnabled('nope', true, null)).toBeNull();
    });

    it('records attempts: retry keeps it pending, delivered and dead end it, 410 disables the endpoint', async () => {
      for (let i = 0; i < 3; i += 1) await store.ingest([{ event: inbound(), optOut: null }]);
      const [a, b, c] = await pendingOf('all');
      await store.recordDelivery({
        deliveryId: a!.id,
        attempt: attempt('retry', 500),
        nextAttemptAt: 42,
        disable: null,
        claimReply: null,
      });
      await store.recordDelivery({
        deliveryId: b!.id,
        attempt: attempt('delivered', 200),
        nextAttemptAt: 0,
        disable: null,
        // An inline reply: the message's reply key is taken with the record.
        claimReply: 'reply:test',
      });
      await store.recordDelivery({
        deliveryId: c!.id,
        attempt: attempt('dead', 500),
        nextAttemptAt: 0,
        disable: null,
        claimReply: null,
      });
      expect((await pendingOf('all')).map((d) => [d.id, d.attempts, d.nextAttemptAt])).toEqual([
        [a!.id, 1, new Date(42).toISOString()],
      ]);
      const [endpoint] = (await store.listEndpoints()).filter((e) => e.id === 'all');
      expect(endpoint).toMatchObject({ pending: 1, dead: 1, enabled: true });
      expect((await store.getEvent(a!.eventId))!.deliveries[0]).toMatchObject({
        endpointId: 'all',
        state: 'pending',
        attempts: 1,
        attemptLog: [{ outcome: 'retry', statusCode: 500, error: 'HTTP 500' }],
      });
      await store.recordDelivery({
        deliveryId: a!.id,
        attempt: attempt('disabled', 410),
        nextAttemptAt: 50,
        disable: { endpointId: 'all', reason: 'gone' },
        claimReply: null,
      });
      expect((await store.listEndpoints()).find((e) => e.id === 'all')).toMatchObject({
        enabled: false,
        disabledReason: 'gone',
        pending: 1,
      });
      // The claimed key now refuses a queued reply for that message (answered inline already).
      const [again] = await store.enqueue([outbound({ idempotencyKey: 'reply:test', requestHash: 'real' })]);
      expect(again).toMatchObject({ outcome: 'conflict', messageId: b!.messageId });
      // Only events with a delivery in that state to that endpoint.
      const dead = await store.listEvents({ endpointId: 'all', state: 'dead' }, { limit: 10 });
      expect(dead.data.map((e) => e.id)).toEqual([c!.eventId]);
    });

    it('redelivers an event to every endpoint that takes it, or to one', async () => {
      await store.ingest([{ event: inbound(), optOut: null }]);
      const [first] = await pendingOf('all');
      const all = await store.redeliver(first!.eventId, null);
      expect(all!.map((d) => d.endpointId).sort()).toEqual(['all', 'inbox']);
      const one = await store.redeliver(first!.eventId, 'inbox');
      expect(one).toEqual([expect.objectContaining({ endpointId: 'inbox', state: 'pending', attempts: 0 })]);
      expect(await pendingOf('inbox')).toHaveLength(3);
      expect(await store.redeliver('0190d1c1-0000-7000-8000-000000000000', null)).toBeNull();
      await expect(store.redeliver(first!.eventId, 'nope')).rejects.toSatisfy(hasCode('endpoint_not_found'));
      await store.setEndpointEnabled('inbox', false, 'x');
      await expect(store.redeliver(first!.eventId, 'inbox')).rejects.toSatisfy(hasCode('endpoint_disabled'));
    });

    it('replays what an endpoint missed since a time: not what it has or awaits, only its types', async () => {
      const since = Date.now() - 1000;
      await store.setEndpointEnabled('inbox', false, 'down');
      for (let i = 0; i < 3; i += 1) await store.ingest([{ event: inbound(), optOut: null }]);
      await store.ingest([{ event: status('SMunknown', 'sent'), optOut: null }]);
      await expect(store.replay('inbox', since)).rejects.toSatisfy(hasCode('endpoint_disabled'));
      await store.setEndpointEnabled('inbox', true, null);
      expect(await store.replay('inbox', since)).toBe(3);
      // Again: all three are pending now, nothing to add.
      expect(await store.replay('inbox', since)).toBe(0);
      expect(await store.replay('inbox', Date.now() + 60_000)).toBe(0);
      await expect(store.replay('nope', since)).rejects.toSatisfy(hasCode('endpoint_not_found'));
      const loaded = await pendingOf('inbox');
      // In event order, so each conversation stays in order.
      expect(loaded.map((d) => d.eventId)).toEqual([...loaded.map((d) => d.eventId)].sort());
    });

    it('lists events by type, message and time, newest first, page by page', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        const [r] = await store.ingest([{ event: inbound(), optOut: null }]);
        ids.push(r!.messageId);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listEvents({ type: 'message.received' }, { cursor, limit: 2 });
        seen.push(...page.data.map((e) => e.messageId));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen).toEqual([...ids].reverse());
      expect((await store.listEvents({ messageId: ids[1] }, { limit: 10 })).data).toHaveLength(1);
      expect((await store.listEvents({ type: 'message.failed' }, { limit: 10 })).data).toHaveLength(0);
      expect((await store.listEvents({ since: Date.now() + 60_000 }, { limit: 10 })).data).toHaveLength(0);
      await expect(store.listEvents({}, { cursor: 'bm9wZQ', limit: 2 })).rejects.toSatisfy(
        hasCode('invalid_cursor'),
      );
      expect(await store.getEvent('0190d1c1-0000-7000-8000-000000000000')).toBeNull();
    });

    it('loads only the first pending delivery of each conversation, when due, in the order they became due', async () => {
      const fromA = [1, 2, 3].map((i) => inbound({ from: '+14155550001', body: `a${i}` }));
      const fromB = [1, 2].map((i) => inbound({ from: '+14155550002', body: `b${i}` }));
      for (const event of [fromA[0]!, fromA[1]!, fromB[0]!, fromA[2]!, fromB[1]!]) {
        await store.ingest([{ event, optOut: null }]);
      }
      const bodies = async (ds: Promise<{ payload: string }[]>) =>
        (await ds).map((d) => (JSON.parse(d.payload) as { data: { body: string } }).data.body);
      expect(await bodies(dueOf('all'))).toEqual(['a1', 'b1']);
      const [a1, b1] = await dueOf('all');
      // What the deliverer holds is skipped; a limit is a limit.
      expect(await bodies(dueOf('all', Date.now(), [a1!.id]))).toEqual(['b1']);
      expect(await bodies(dueOf('all', Date.now(), [], 1))).toEqual(['a1']);

      // Delivered: the next of the conversation takes its place, in the same transaction.
      const handed = await store.recordDelivery(result(a1!.id, attempt('delivered', 200), 0));
      expect(handed.pending).toBe(false);
      expect(handed.next).toMatchObject({ conversation: '+14155550001', attempts: 0 });
      expect(await bodies(Promise.resolve([handed.next!]))).toEqual(['a2']);
      // A retry keeps its place: nothing behind it is due, and it is due again at its time.
      const later = Date.now() + 60_000;
      expect(await store.recordDelivery(result(b1!.id, attempt('retry', 503), later))).toEqual({
        pending: true,
        next: null,
      });
      expect(await bodies(dueOf('all'))).toEqual(['a2']);
      expect(await bodies(dueOf('all', later))).toEqual(['a2', 'b1']);
      expect((await dueOf('all', later)).find((d) => d.id === b1!.id)).toMatchObject({
        attempts: 1,
        nextAttemptAt: later,
      });
      // Never attempted is always due, even to a clock that stepped back past its creation.
      expect(await bodies(dueOf('all', Date.now() - 3_600_000))).toEqual(['a2']);
      // Dead also hands the conversation on.
      const a2 = handed.next!;
      const afterDead = await store.recordDelivery(result(a2.id, attempt('dead', 500), 0));
      expect(await bodies(Promise.resolve([afterDead.next!]))).toEqual(['a3']);
      // The last of a conversation hands nothing on.
      expect(
        (await store.recordDelivery(result(afterDead.next!.id, attempt('delivered', 200), 0))).next,
      ).toBeNull();
      expect(await bodies(dueOf('all', later))).toEqual(['b1']);
    });

    it('finds a message’s delivery when it is first in its conversation (compute mode)', async () => {
      const [first] = await store.ingest([{ event: inbound({ from: '+14155550003' }), optOut: null }]);
      const [second] = await store.ingest([{ event: inbound({ from: '+14155550003' }), optOut: null }]);
      expect(await store.loadDeliveryOf('inbox', first!.messageId)).toMatchObject({
        messageId: first!.messageId,
        endpointId: 'inbox',
        type: 'message.received',
      });
      // Behind the first: not sendable yet.
      expect(await store.loadDeliveryOf('inbox', second!.messageId)).toBeNull();
      expect(await store.loadDeliveryOf('nope', first!.messageId)).toBeNull();
    });

    it('orders a message’s own status callbacks per message, not per phone number', async () => {
      await store.syncEndpoints([
        {
          id: 'status-callback',
          url: '',
          events: ['message.status', 'message.failed'],
        },
      ]);
      const ids: string[] = [];
      for (const n of [1, 2]) {
        const [q] = await store.enqueue([outbound({ statusCallback: `https://app.example/cb/${n}` })]);
        const id = q!.outcome === 'stored' ? q!.message.id : '';
        ids.push(id);
        await store.recordSend({
          kind: 'accepted',
          messageId: id,
          attempt: attemptRecord(),
          providerMessageId: `SMcb${n}-${id}`,
          providerStatus: 'queued',
          from: null,
        });
      }
      // Both messages went to +14155550123: each has its own first callback, to its own URL.
      const due = await dueOf('status-callback');
      expect(due.map((d) => [d.conversation, d.url])).toEqual([
        [ids[0], 'https://app.example/cb/1'],
        [ids[1], 'https://app.example/cb/2'],
      ]);
      // A redelivery and a replay keep that order key.
      await store.redeliver(due[0]!.eventId, 'status-callback');
      expect((await pendingOf('status-callback')).length).toBe(3);
      expect((await dueOf('status-callback')).map((d) => d.conversation)).toEqual([ids[0], ids[1]]);
    });

    it('keys each status callback by the API key that sent its message, and loads lane by lane', async () => {
      await store.syncEndpoints([
        { id: 'status-callback', url: '', events: ['message.status'] },
        { id: 'inbox', url: 'https://app.example/in', events: ['message.received'] },
      ]);
      const sent = async (createdBy: string | null, n: number) => {
        const [q] = await store.enqueue([
          outbound({ createdBy, statusCallback: `https://app.example/cb/${n}`, to: `+1415555${1000 + n}` }),
        ]);
        const id = q!.outcome === 'stored' ? q!.message.id : '';
        await store.recordSend({
          kind: 'accepted',
          messageId: id,
          attempt: attemptRecord(),
          providerMessageId: `SMlane${n}-${id}`,
          providerStatus: 'queued',
          from: null,
        });
      };
      for (const [n, key] of ['key-a', 'key-a', 'key-a', 'key-b', null, 'key-b'].entries())
        await sent(key, n);
      const lanesOf = (due: { laneKey: string }[]) => due.map((d) => d.laneKey);
      // Messages sent before keys were recorded share one lane ('').
      expect(lanesOf(await dueOf('status-callback'))).toEqual([
        'key-a',
        'key-a',
        'key-a',
        'key-b',
        '',
        'key-b',
      ]);
      // A lane that may take nothing is left out; the others take at most their max, in due order.
      const lane = (laneKey: string, max: number, floor = 0) => ({ laneKey, max, floor });
      const due = (limit: number, allowance: LaneAllowance) =>
        store.loadDueDeliveries('status-callback', Date.now(), [], limit, allowance);
      expect(lanesOf(await due(10, { lanes: [lane('key-a', 0)], others: { max: 1, floor: 0 } }))).toEqual([
        'key-b',
        '',
      ]);
      expect(lanesOf(await due(10, { lanes: [lane('key-a', 2)], others: { max: 0, floor: 0 } }))).toEqual([
        'key-a',
        'key-a',
      ]);
      // Floors are taken whatever the limit; beyond them, the limit in due order.
      expect(lanesOf(await due(0, { lanes: [], others: { max: 2, floor: 1 } }))).toEqual([
        'key-a',
        'key-b',
        '',
      ]);
      expect(lanesOf(await due(1, { lanes: [], others: { max: 2, floor: 1 } }))).toEqual([
        'key-a',
        'key-a',
        'key-b',
        '',
      ]);
      // Not the other endpoints: one lane.
      await store.ingest([{ event: inbound(), optOut: null }]);
      expect(lanesOf(await dueOf('inbox'))).toEqual(['']);
      // A redelivery and a replay keep the message's key.
      const [first] = await dueOf('status-callback');
      const [redelivered] = (await store.redeliver(first!.eventId, 'status-callback'))!;
      await store.recordDelivery(result(first!.id, attempt('delivered', 200), 0));
      const next = await dueOf('status-callback');
      expect(next.find((d) => d.id === redelivered!.id)?.laneKey).toBe('key-a');
    });

    it('hands a conversation on when its first delivery is deleted with its message', async () => {
      // A status callback that beat the send result makes a message of its own, folded into the sent one later
      // (its events go with it); an event behind it in the conversation must not wait forever.
      await store.ingest([{ event: status('SMfold', 'sent'), optOut: null }]);
      const [behind] = await store.ingest([{ event: inbound({ from: '+14155550123' }), optOut: null }]);
      expect((await dueOf('all')).map((d) => d.messageId)).not.toContain(behind!.messageId);
      const [q] = await store.enqueue([outbound()]);
      const id = q!.outcome === 'stored' ? q!.message.id : '';
      await store.recordSend({
        kind: 'accepted',
        messageId: id,
        attempt: attemptRecord(),
        providerMessageId: 'SMfold',
        providerStatus: 'queued',
        from: null,
      });
      expect((await dueOf('all')).map((d) => d.messageId)).toEqual([behind!.messageId]);
    });

    it('replays with one first delivery per conversation', async () => {
      const since = Date.now() - 1000;
      await store.setEndpointEnabled('inbox', false, 'down');
      for (const from of ['+14155550004', '+14155550004', '+14155550005']) {
        await store.ingest([{ event: inbound({ from }), optOut: null }]);
      }
      await store.setEndpointEnabled('inbox', true, null);
      expect(await store.replay('inbox', since)).toBe(3);
      expect((await dueOf('inbox')).map((d) => d.conversation)).toEqual(['+14155550004', '+14155550005']);
    });

    it('tells listeners when a commit created deliveries', async () => {
      let told = 0;
      (store as EventStore).onDeliveries(() => (told += 1));
      await store.ingest([{ event: inbound(), optOut: null }]);
      await until(() => told > 0);
      expect(told).toBeGreaterThan(0);
    });
  });
}

function attempt(outcome: 'delivered' | 'retry' | 'dead' | 'disabled', statusCode: number | null) {
  return {
    outcome,
    statusCode,
    error: statusCode === 200 ? null : `HTTP ${statusCode}`,
    startedAt: Date.now(),
    durationMs: 3,
  };
}

function result(deliveryId: number, a: ReturnType<typeof attempt>, nextAttemptAt: number) {
  return { deliveryId, attempt: a, nextAttemptAt, disable: null, claimReply: null };
}

function attemptRecord() {
  return {
    provider: 'twilio' as const,
    errorClass: null,
    errorCode: null,
    errorMessage: null,
    httpStatus: null,
    startedAt: Date.now(),
    durationMs: 5,
  };
}
