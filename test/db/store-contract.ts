import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SwitchboardError } from '../../src/core/errors.js';
import type { InboundMessageEvent, StatusEvent } from '../../src/core/provider.js';
import type { Store } from '../../src/core/store.js';

let seq = 0;
export function inbound(overrides: Partial<InboundMessageEvent> = {}): InboundMessageEvent {
  seq += 1;
  return {
    kind: 'inbound_message',
    dedupeKey: `test:in:${seq}`,
    provider: 'twilio',
    providerMessageId: `SMin${seq}`,
    providerStatus: 'received',
    channel: 'sms',
    from: '+14155550123',
    to: '+14155550100',
    cc: [],
    body: 'hello',
    media: [],
    segments: 1,
    encoding: 'GSM-7',
    occurredAt: 1_700_000_000_000 + seq,
    ...overrides,
  };
}

export function status(
  providerMessageId: string,
  s: StatusEvent['status'],
  overrides: Partial<StatusEvent> = {},
): StatusEvent {
  seq += 1;
  return {
    kind: 'status',
    dedupeKey: `test:st:${seq}`,
    provider: 'twilio',
    providerMessageId,
    status: s,
    providerStatus: s ?? 'mystery',
    errorCode: null,
    errorMessage: null,
    from: '+14155550100',
    to: '+14155550123',
    channel: 'sms',
    body: null,
    segments: null,
    encoding: null,
    occurredAt: 1_700_000_000_000 + seq,
    ...overrides,
  };
}

/** The behaviour every Store must have, whatever database is behind it. */
export function describeStoreContract(name: string, open: () => Promise<Store> | Store): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('stores an inbound message with its received event and returns it in the API shape', async () => {
      const event = inbound({
        media: [{ url: 'https://m.example/1.jpg', contentType: 'image/jpeg' }],
        channel: 'mms',
        cc: ['+14155550177'],
      });
      const [result] = await store.ingest([{ event, optOut: null }]);
      expect(result?.outcome).toBe('stored');
      const message = await store.getMessage(result!.messageId);
      expect(message).toMatchObject({
        id: result!.messageId,
        provider: 'twilio',
        providerMessageId: event.providerMessageId,
        direction: 'inbound',
        channel: 'mms',
        from: '+14155550123',
        to: '+14155550100',
        cc: ['+14155550177'],
        body: 'hello',
        media: [{ url: 'https://m.example/1.jpg', contentType: 'image/jpeg' }],
        status: 'received',
        segments: 1,
        encoding: 'GSM-7',
        errorCode: null,
        events: [{ status: 'received', providerStatus: 'received', errorCode: null }],
      });
      expect(Date.parse(message!.createdAt)).not.toBeNaN();
    });

    it('acknowledges a duplicate without writing anything', async () => {
      const event = inbound();
      const [first] = await store.ingest([{ event, optOut: null }]);
      const [again] = await store.ingest([{ event, optOut: null }]);
      expect(again).toEqual({ outcome: 'duplicate', messageId: first!.messageId });
      expect((await store.getMessage(first!.messageId))!.events).toHaveLength(1);
      expect((await store.listMessages({}, { limit: 10 })).data).toHaveLength(1);
    });

    it('treats the same carrier message under a new event id as a duplicate', async () => {
      const first = inbound({ body: 'STOP' });
      const [a] = await store.ingest([{ event: first, optOut: 'add' }]);
      await store.ingest([{ event: inbound({ body: 'START' }), optOut: 'remove' }]);
      const retry = { ...first, dedupeKey: `${first.dedupeKey}:retried-under-new-id` };
      const [b] = await store.ingest([{ event: retry, optOut: 'add' }]);
      expect(b).toEqual({ outcome: 'duplicate', messageId: a!.messageId });
      expect((await store.getMessage(a!.messageId))!.events).toHaveLength(1);
      expect(await store.isOptedOut('+14155550123', '+14155550100')).toBe(false);
    });

    it('moves status forward only, keeping every event in the history', async () => {
      const [created] = await store.ingest([{ event: status('SMout1', 'sent'), optOut: null }]);
      const id = created!.messageId;
      await store.ingest([{ event: status('SMout1', 'delivered'), optOut: null }]);
      await store.ingest([{ event: status('SMout1', 'sent'), optOut: null }]); // late and out of order
      const message = await store.getMessage(id);
      expect(message!.status).toBe('delivered');
      expect(message!.events.map((e) => e.status)).toEqual(['sent', 'delivered', 'sent']);
    });

    it('records a failure with the carrier error code', async () => {
      await store.ingest([{ event: status('SMout2', 'sent'), optOut: null }]);
      const [r] = await store.ingest([
        {
          event: status('SMout2', 'undelivered', { errorCode: '30003', errorMessage: 'Unreachable handset' }),
          optOut: null,
        },
      ]);
      expect(await store.getMessage(r!.messageId)).toMatchObject({
        status: 'undelivered',
        errorCode: '30003',
        errorMessage: 'Unreachable handset',
        events: [{ status: 'sent' }, { status: 'undelivered', errorCode: '30003' }],
      });
    });

    it('records a callback for a message it never saw as an outbound message', async () => {
      const [r] = await store.ingest([{ event: status('SMforeign', 'delivered'), optOut: null }]);
      expect(await store.getMessage(r!.messageId)).toMatchObject({
        direction: 'outbound',
        status: 'delivered',
        from: '+14155550100',
        to: '+14155550123',
      });
    });

    it('keeps an unknown carrier status in the history without changing the status', async () => {
      const [r] = await store.ingest([{ event: status('SMout3', 'sent'), optOut: null }]);
      await store.ingest([{ event: status('SMout3', null, { providerStatus: 'teleported' }), optOut: null }]);
      const message = await store.getMessage(r!.messageId);
      expect(message!.status).toBe('sent');
      expect(message!.events.at(-1)).toMatchObject({ status: null, providerStatus: 'teleported' });
    });

    it('adds and removes opt-outs per sender and our number', async () => {
      await store.ingest([{ event: inbound({ body: 'STOP' }), optOut: 'add' }]);
      expect(await store.isOptedOut('+14155550123', '+14155550100')).toBe(true);
      expect(await store.isOptedOut('+14155550123', '+14155550999')).toBe(false);
      await store.ingest([{ event: inbound({ body: 'START' }), optOut: 'remove' }]);
      expect(await store.isOptedOut('+14155550123', '+14155550100')).toBe(false);
    });

    it('does not apply a duplicate STOP again after a START', async () => {
      const stop = inbound({ body: 'STOP' });
      await store.ingest([{ event: stop, optOut: 'add' }]);
      await store.ingest([{ event: inbound({ body: 'START' }), optOut: 'remove' }]);
      await store.ingest([{ event: stop, optOut: 'add' }]); // carrier retry of the old STOP
      expect(await store.isOptedOut('+14155550123', '+14155550100')).toBe(false);
    });

    it('queues an outbound message once per dedupe key', async () => {
      const message = {
        provider: 'telnyx' as const,
        channel: 'sms' as const,
        from: '+1',
        to: '+2',
        body: 'hi',
        media: [],
        segments: 1,
        encoding: 'GSM-7' as const,
        dedupeKey: 'reply:x',
      };
      const first = await store.queueOutbound(message);
      const second = await store.queueOutbound(message);
      expect(first.outcome).toBe('stored');
      expect(second).toEqual({ outcome: 'duplicate', messageId: first.messageId });
      expect(await store.getMessage(first.messageId)).toMatchObject({
        direction: 'outbound',
        status: 'queued',
        provider: 'telnyx',
      });
    });

    it('lists newest first with filters and a cursor that visits every message once', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const [r] = await store.ingest([
          {
            event: inbound({ provider: i % 2 ? 'telnyx' : 'twilio', from: `+1415555010${i}` }),
            optOut: null,
          },
        ]);
        ids.push(r!.messageId);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listMessages({}, { cursor, limit: 3 });
        seen.push(...page.data.map((m) => m.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen).toEqual([...ids].reverse());
      expect((await store.listMessages({ provider: 'telnyx' }, { limit: 10 })).data).toHaveLength(3);
      expect(
        (await store.listMessages({ from: '+14155550102' }, { limit: 10 })).data.map((m) => m.id),
      ).toEqual([ids[2]]);
      expect((await store.listMessages({ direction: 'outbound' }, { limit: 10 })).data).toHaveLength(0);
      expect((await store.listMessages({ since: Date.now() + 60_000 }, { limit: 10 })).data).toHaveLength(0);
    });

    it('rejects a cursor it did not issue', async () => {
      await expect(store.listMessages({}, { cursor: 'bm90LWEtY3Vyc29y', limit: 3 })).rejects.toSatisfy(
        (err) => err instanceof SwitchboardError && err.code === 'invalid_cursor',
      );
    });

    it('answers a ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
