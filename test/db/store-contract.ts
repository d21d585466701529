import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SwitchboardError } from '../../src/core/errors.js';
import type { InboundMessageEvent, StatusEvent } from '../../src/core/provider.js';
import type { AttemptRecord, NewOutboundMessage, Store } from '../../src/core/store.js';
import { describeRetentionContract } from './retention-contract.js';

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

export function outbound(overrides: Partial<NewOutboundMessage> = {}): NewOutboundMessage {
  seq += 1;
  return {
    provider: 'twilio',
    channel: 'sms',
    from: '+14155550100',
    to: '+14155550123',
    cc: [],
    body: `message ${seq}`,
    media: [],
    segments: 1,
    encoding: 'GSM-7',
    statusCallback: null,
    idempotencyKey: null,
    requestHash: `hash-${seq}`,
    createdBy: null,
    ...overrides,
  };
}

function attempt(errorClass: AttemptRecord['errorClass'], errorCode: string | null): AttemptRecord {
  return {
    provider: 'twilio',
    errorClass,
    errorCode,
    errorMessage: errorCode === null ? null : `error ${errorCode}`,
    httpStatus: errorCode === null ? null : 500,
    startedAt: Date.now(),
    durationMs: 12,
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
    recipientOptedOut: false,
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

    it('remembers a replay key: the same events again are duplicates, other events under it are refused', async () => {
      const replayed = (err: unknown) => err instanceof SwitchboardError && err.code === 'signature_replayed';
      const first = inbound();
      const [a] = await store.ingest([{ event: first, optOut: null }], 'twilio sig-1');
      expect(a?.outcome).toBe('stored');
      // The carrier's own retry: same signature, same events.
      const [again] = await store.ingest([{ event: first, optOut: null }], 'twilio sig-1');
      expect(again).toEqual({ outcome: 'duplicate', messageId: a!.messageId });

      // The same signature with other parameters: a STOP from someone else. Nothing of it is stored.
      const forged = inbound({ from: '+14155550166', body: 'STOP' });
      await expect(store.ingest([{ event: forged, optOut: 'add' }], 'twilio sig-1')).rejects.toSatisfy(
        replayed,
      );
      // Its events plus one already stored: not every event is stored, so refused too.
      await expect(
        store.ingest(
          [
            { event: first, optOut: null },
            { event: forged, optOut: 'add' },
          ],
          'twilio sig-1',
        ),
      ).rejects.toSatisfy(replayed);
      expect(await store.isOptedOut('+14155550166', '+14155550100')).toBe(false);
      expect((await store.listMessages({}, { limit: 10 })).data.map((m) => m.id)).toEqual([a!.messageId]);

      // Another key (and no key at all) is not affected; the refused events were not stored, so they can come.
      const [other] = await store.ingest([{ event: forged, optOut: 'add' }], 'twilio sig-2');
      expect(other?.outcome).toBe('stored');
      expect(await store.isOptedOut('+14155550166', '+14155550100')).toBe(true);
      const [plain] = await store.ingest([{ event: inbound(), optOut: null }]);
      expect(plain?.outcome).toBe('stored');
    });

    it('forgets a replay key whose webhook was not stored (the write failed), so the retry is stored', async () => {
      const broken = inbound({ provider: null as unknown as InboundMessageEvent['provider'] }); // NOT NULL
      await expect(store.ingest([{ event: broken, optOut: null }], 'twilio sig-3')).rejects.toThrow();
      const [retry] = await store.ingest([{ event: inbound(), optOut: null }], 'twilio sig-3');
      expect(retry?.outcome).toBe('stored');
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

    it('queues an outbound message with its outbox row; an idempotency key returns the first or conflicts', async () => {
      const message = outbound({ idempotencyKey: 'key-1' });
      const [first] = await store.enqueue([message]);
      const [again] = await store.enqueue([message]);
      const [other] = await store.enqueue([{ ...message, body: 'other', requestHash: 'h2' }]);
      expect(first).toMatchObject({
        outcome: 'stored',
        message: { status: 'queued', direction: 'outbound' },
      });
      const id = first!.outcome === 'stored' ? first!.message.id : '';
      expect(again).toEqual({ outcome: 'duplicate', message: expect.objectContaining({ id }) });
      expect(other).toEqual({ outcome: 'conflict', messageId: id });
      const outboxRows = await store.loadOutbox('twilio', null, 10);
      expect(outboxRows.map((r) => r.messageId)).toEqual([id]);
      expect(outboxRows[0]).toMatchObject({ provider: 'twilio', to: message.to, attempts: 0 });
      expect(await store.getMessage(id)).toMatchObject({ status: 'queued', statusCallback: null });
    });

    it('tells which idempotency keys have a message, in the order asked', async () => {
      await store.enqueue([outbound({ idempotencyKey: 'k-a' }), outbound({ idempotencyKey: 'k-b' })]);
      expect(await store.existingIdempotencyKeys(['k-b', 'k-new', 'k-a'])).toEqual(['k-b', 'k-a']);
      expect(await store.existingIdempotencyKeys([])).toEqual([]);
    });

    it('keeps which API key sent a message, and reads it back with the message', async () => {
      const [sent] = await store.enqueue([outbound({ createdBy: 'key-a', to: '+14155550188' })]);
      const id = sent!.outcome === 'stored' ? sent!.message.id : '';
      await store.ingest([{ event: inbound({ from: '+14155550188' }), optOut: null }]);
      expect(await store.getMessage(id)).toMatchObject({ id, createdBy: 'key-a' });
      const listed = await store.listMessages({}, { limit: 10 });
      expect(listed.data.map((m) => [m.direction, m.createdBy])).toEqual([
        ['inbound', null],
        ['outbound', 'key-a'],
      ]);
    });

    it('refuses, inside the same transaction, a recipient who opted out of that sender', async () => {
      const stop = inbound({ from: '+14155550177', to: '+14155550100', body: 'STOP' });
      await store.ingest([{ event: stop, optOut: 'add' }]);
      const results = await store.enqueue([
        outbound({ to: '+14155550177', from: '+14155550100' }),
        outbound({ to: '+14155550177', from: '+14155550199' }),
        // No sender of our own (the carrier picks one): refused if they opted out of any of our numbers.
        outbound({ to: '+14155550177', from: '' }),
      ]);
      expect(results.map((r) => r.outcome)).toEqual(['opted_out', 'stored', 'opted_out']);
      expect(await store.loadOutbox('twilio', null, 10)).toHaveLength(1);
    });

    it('pages the outbox in creation order after a cursor', async () => {
      const results = await store.enqueue([outbound(), outbound(), outbound()]);
      const ids = results.map((r) => (r.outcome === 'stored' ? r.message.id : ''));
      expect((await store.loadOutbox('twilio', null, 2)).map((r) => r.messageId)).toEqual(ids.slice(0, 2));
      expect((await store.loadOutbox('twilio', ids[1]!, 10)).map((r) => r.messageId)).toEqual(ids.slice(2));
    });

    it('records tries: retry and failover keep the outbox row, acceptance and failure remove it', async () => {
      const [a, b] = await store.enqueue([outbound(), outbound({ to: '+14155550166' })]);
      const idA = a!.outcome === 'stored' ? a!.message.id : '';
      const idB = b!.outcome === 'stored' ? b!.message.id : '';
      await store.recordSend({
        kind: 'retry',
        messageId: idA,
        attempt: attempt('transient', '20500'),
        nextAttemptAt: 5,
      });
      expect((await store.loadOutbox('twilio', null, 10))[0]).toMatchObject({
        messageId: idA,
        attempts: 1,
        nextAttemptAt: 5,
      });
      await store.recordSend({
        kind: 'failover',
        messageId: idA,
        attempt: attempt('transient', '20500'),
        provider: 'telnyx',
        from: '+13125550001',
        segments: 2,
        encoding: 'UCS-2',
        nextAttemptAt: 6,
      });
      expect((await store.loadOutbox('twilio', null, 10)).map((r) => r.messageId)).toEqual([idB]);
      expect(await store.loadOutbox('telnyx', null, 10)).toEqual([
        expect.objectContaining({ messageId: idA, provider: 'telnyx', from: '+13125550001', attempts: 0 }),
      ]);
      await store.recordSend({
        kind: 'accepted',
        messageId: idA,
        attempt: { ...attempt(null, null), provider: 'telnyx' },
        providerMessageId: 'tx-1',
        providerStatus: 'queued',
        from: null,
      });
      await store.recordSend({
        kind: 'failed',
        messageId: idB,
        attempt: attempt('opted_out', '21610'),
        optOut: true,
      });
      expect(await store.loadOutbox('twilio', null, 10)).toEqual([]);
      expect(await store.loadOutbox('telnyx', null, 10)).toEqual([]);
      const sent = await store.getMessage(idA);
      expect(sent).toMatchObject({
        provider: 'telnyx',
        providerMessageId: 'tx-1',
        status: 'sending',
        from: '+13125550001',
        // The carrier that sends counts them: the failover's count replaced the first carrier's.
        segments: 2,
        encoding: 'UCS-2',
      });
      expect(sent!.attempts.map((x) => [x.provider, x.outcome])).toEqual([
        ['twilio', 'retry'],
        ['twilio', 'failover'],
        ['telnyx', 'accepted'],
      ]);
      expect(await store.getMessage(idB)).toMatchObject({ status: 'failed', errorCode: '21610' });
      expect(await store.isOptedOut('+14155550166', '+14155550100')).toBe(true);
    });

    it("keeps a group message's cc, and a failure's reason beside the attempt's own code", async () => {
      const [r] = await store.enqueue([
        outbound({ provider: 'telnyx', channel: 'mms', cc: ['+14155550177', '+14155550178'] }),
      ]);
      const id = r!.outcome === 'stored' ? r!.message.id : '';
      expect(r!.outcome === 'stored' && r!.message.cc).toEqual(['+14155550177', '+14155550178']);
      expect((await store.loadOutbox('telnyx', null, 10)).find((x) => x.messageId === id)?.cc).toEqual([
        '+14155550177',
        '+14155550178',
      ]);
      await store.recordSend({
        kind: 'failed',
        messageId: id,
        attempt: { ...attempt('transient', 'http_503'), provider: 'telnyx' },
        optOut: false,
        reason: { code: 'no_fitting_carrier', message: 'twilio cannot send group MMS.' },
      });
      const failed = await store.getMessage(id);
      expect(failed).toMatchObject({
        cc: ['+14155550177', '+14155550178'],
        status: 'failed',
        errorCode: 'no_fitting_carrier',
        errorMessage: 'twilio cannot send group MMS.',
      });
      expect(failed!.attempts.at(-1)).toMatchObject({ outcome: 'failed', errorCode: 'http_503' });
    });

    it("leaves a group's participants who opted out of the sender out of its cc: when queued, loaded and sent", async () => {
      const [A, B, C] = ['+14155550171', '+14155550172', '+14155550173'];
      const from = '+13125550001';
      const group = (cc: string[]) => outbound({ provider: 'telnyx', channel: 'mms', from, cc });
      await store.ingest([{ event: inbound({ from: A, to: from, body: 'STOP' }), optOut: 'add' }]);
      // Opted out of another number of ours only: still in the group.
      await store.ingest([{ event: inbound({ from: B, to: '+14155550100', body: 'STOP' }), optOut: 'add' }]);
      expect(await store.optedOutAmong([C, A, B], from)).toEqual([A]);
      expect(await store.optedOutAmong([A, B], '')).toEqual([A, B]); // '': of any number of ours
      const [partly, none, refused] = await store.enqueue([
        group([A, B]),
        group([A]),
        outbound({ provider: 'telnyx', channel: 'mms', from, to: A, cc: [B] }),
      ]);
      // Stored (and answered) without them; with nobody left it goes to `to` alone. `to` itself refuses it.
      expect(partly).toMatchObject({ outcome: 'stored', message: { cc: [B], channel: 'mms' } });
      expect(none).toMatchObject({ outcome: 'stored', message: { cc: [] } });
      expect(refused).toEqual({ outcome: 'opted_out' });
      const idPartly = partly!.outcome === 'stored' ? partly!.message.id : '';
      const idNone = none!.outcome === 'stored' ? none!.message.id : '';
      expect(await store.getMessage(idPartly)).toMatchObject({ cc: [B] });
      expect(await store.getMessage(idNone)).toMatchObject({ cc: [] });

      // Opted out while it waits: the outbox gives it to the dispatcher without them.
      await store.ingest([{ event: inbound({ from: B, to: from, body: 'STOP' }), optOut: 'add' }]);
      const loaded = (await store.loadOutbox('telnyx', null, 10)).find((r) => r.messageId === idPartly);
      expect(loaded).toMatchObject({ cc: [], optedOut: false });
      // And the message records whom it went to.
      await store.recordSend({
        kind: 'accepted',
        messageId: idPartly,
        attempt: { ...attempt(null, null), provider: 'telnyx' },
        providerMessageId: 'tx-group',
        providerStatus: 'queued',
        from: null,
        cc: [],
      });
      expect(await store.getMessage(idPartly)).toMatchObject({ status: 'sending', cc: [] });
    });

    it('turns a failover to a sender the recipient opted out of into a failure, and flags queued rows', async () => {
      const [r] = await store.enqueue([outbound({ to: '+14155550188' })]);
      const id = r!.outcome === 'stored' ? r!.message.id : '';
      // The recipient texts STOP to the Telnyx number while the message waits on Twilio.
      const stop = inbound({ from: '+14155550188', to: '+13125550001', body: 'STOP', provider: 'telnyx' });
      await store.ingest([{ event: stop, optOut: 'add' }]);
      const applied = await store.recordSend({
        kind: 'failover',
        messageId: id,
        attempt: attempt('transient', '20500'),
        provider: 'telnyx',
        from: '+13125550001',
        segments: 1,
        encoding: 'GSM-7',
        nextAttemptAt: 1,
      });
      expect(applied).toBe('failed');
      expect(await store.getMessage(id)).toMatchObject({
        status: 'failed',
        errorCode: 'recipient_opted_out',
      });
      expect(await store.loadOutbox('telnyx', null, 10)).toEqual([]);

      const [q] = await store.enqueue([outbound({ to: '+14155550189' })]);
      const queued = q!.outcome === 'stored' ? q!.message.id : '';
      const stop2 = inbound({ from: '+14155550189', to: '+14155550100', body: 'STOP' });
      await store.ingest([{ event: stop2, optOut: 'add' }]);
      expect(await store.loadOutbox('twilio', null, 10)).toEqual([
        expect.objectContaining({ messageId: queued, optedOut: true }),
      ]);
      expect(await store.isOptedOut('+14155550189', '')).toBe(true);
    });

    it('folds a status callback that beat the send result into the sent message', async () => {
      const [r] = await store.enqueue([outbound()]);
      const id = r!.outcome === 'stored' ? r!.message.id : '';
      // The carrier's "delivered" arrives before the gateway has stored the carrier's id for its message.
      const [early] = await store.ingest([{ event: status('SMearly', 'delivered'), optOut: null }]);
      expect(early!.messageId).not.toBe(id);
      await store.recordSend({
        kind: 'accepted',
        messageId: id,
        attempt: attempt(null, null),
        providerMessageId: 'SMearly',
        providerStatus: 'queued',
        from: null,
      });
      expect(await store.getMessage(early!.messageId)).toBeNull();
      const merged = await store.getMessage(id);
      expect(merged).toMatchObject({ status: 'delivered', providerMessageId: 'SMearly' });
      expect(merged!.events.map((e) => e.status)).toEqual(expect.arrayContaining(['queued', 'delivered']));
      // Later callbacks find it by the carrier's id.
      const [late] = await store.ingest([{ event: status('SMearly', 'sent'), optOut: null }]);
      expect(late!.messageId).toBe(id);
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
      expect((await store.listMessages({ since: Date.now() - 60_000 }, { limit: 10 })).data).toHaveLength(7);
    });

    it('rejects a cursor it did not issue', async () => {
      await expect(store.listMessages({}, { cursor: 'bm90LWEtY3Vyc29y', limit: 3 })).rejects.toSatisfy(
        (err) => err instanceof SwitchboardError && err.code === 'invalid_cursor',
      );
    });

    it('is ready to take writes', async () => {
      await expect(store.checkReady(1_500)).resolves.toBeUndefined();
    });
  });
  describeRetentionContract(name, open);
}
