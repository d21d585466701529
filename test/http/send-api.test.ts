import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newSecret } from '../helpers/app-server.js';
import { API_KEY, json, startGateway, type TestGateway } from '../helpers/gateway.js';
import { fakeResolver } from '../helpers/resolver.js';
import { startSendGateway, TWILIO_FROM, type SendGateway } from '../helpers/send-gateway.js';

let gw: SendGateway;
afterEach(async () => {
  await gw?.close();
});

const TO = '+14155550123';

async function outboundCount(): Promise<number> {
  return (await gw.store.listMessages({ direction: 'outbound' }, { limit: 200 })).data.length;
}

describe('POST /v1/messages', () => {
  it('answers 202 with the queued message, normalized to E.164, with its segments and encoding', async () => {
    gw = await startSendGateway({
      env: { APP_WEBHOOK_SECRET: newSecret() },
      // The status callback's host resolves to a public address when sent (and to nothing later, so that no
      // callback leaves this machine).
      deps: { resolveHost: fakeResolver({ 'app.example': [['93.184.216.34'], []] }) },
    });
    const res = await gw.send({
      to: '+1 (415) 555-0123',
      body: 'Grüße ☀️',
      statusCallback: 'https://app.example/cb',
    });
    expect(res.status).toBe(202);
    const message = await json(res);
    expect(message).toMatchObject({
      id: expect.any(String),
      direction: 'outbound',
      status: 'queued',
      provider: 'twilio',
      from: TWILIO_FROM,
      to: TO,
      body: 'Grüße ☀️',
      encoding: 'UCS-2',
      segments: 1,
      statusCallback: 'https://app.example/cb',
    });
    // Stored before the answer, every field: it can be read back at once.
    const stored = await gw.api(`/v1/messages/${message.id}`);
    expect(stored.status).toBe(200);
    expect(await json(stored)).toMatchObject({
      ...message,
      status: expect.any(String),
      updatedAt: expect.any(String),
    });
  });

  describe('refuses bad requests', () => {
    let shared: SendGateway;
    beforeAll(async () => {
      shared = await startSendGateway({ env: { APP_WEBHOOK_SECRET: newSecret() } });
    });
    afterAll(async () => shared.close());

    it.each([
      ['an invalid number', { to: '+1415555', body: 'x' }, 400, 'invalid_phone_number'],
      ['a national number without a country', { to: '4155550123', body: 'x' }, 400, 'invalid_phone_number'],
      ['an invalid sender', { to: TO, from: 'not a number!', body: 'x' }, 400, 'invalid_phone_number'],
      ['neither body nor media', { to: TO }, 400, 'body_or_media_required'],
      ['an empty body', { to: TO, body: '' }, 400, 'body_or_media_required'],
      ['a body over Twilio’s 1600 characters', { to: TO, body: 'a'.repeat(1601) }, 400, 'body_too_long'],
      [
        'a body over Telnyx’s 10 segments',
        { to: TO, body: 'a'.repeat(153 * 10 + 1), provider: 'telnyx' },
        400,
        'body_too_long',
      ],
      [
        'more media than the carrier takes',
        { to: TO, mediaUrls: Array.from({ length: 11 }, (_, i) => `https://e.x/${i}.png`) },
        400,
        'too_many_media',
      ],
      ['a media URL that is not http(s)', { to: TO, mediaUrls: ['ftp://e.x/a.png'] }, 400, 'invalid_request'],
      [
        'a malformed status callback',
        { to: TO, body: 'x', statusCallback: 'https://' },
        400,
        'invalid_request',
      ],
      ['an unknown field', { to: TO, body: 'x', priority: 'high' }, 400, 'invalid_request'],
      ['an unknown provider', { to: TO, body: 'x', provider: 'vonage' }, 400, 'invalid_request'],
      ['a field of the wrong type', { to: TO, body: { text: 'x' } }, 400, 'invalid_request'],
    ])('refuses %s with a clear code and stores nothing', async (_name, body, status, code) => {
      const res = await shared.send(body);
      const payload = await json(res);
      expect(res.status, JSON.stringify(payload)).toBe(status);
      expect(payload.error).toMatchObject({ code, message: expect.any(String) });
      expect((await shared.store.listMessages({}, { limit: 10 })).data).toHaveLength(0);
    });
  });

  it('refuses a body that is not JSON, and a request without an API key', async () => {
    gw = await startSendGateway();
    const bad = await fetch(`${gw.base}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: '{"to":',
    });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toBe('malformed_body');
    const anonymous = await fetch(`${gw.base}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: TO, body: 'x' }),
    });
    expect(anonymous.status).toBe(401);
    expect(await outboundCount()).toBe(0);
  });

  it('returns the first message for a repeated Idempotency-Key and refuses the key with another body', async () => {
    gw = await startSendGateway();
    const headers = { 'idempotency-key': 'order-42' };
    const first = await gw.send({ to: TO, body: 'Your order shipped' }, headers);
    // The same request with its JSON keys in another order is the same request.
    const again = await gw.send({ body: 'Your order shipped', to: TO }, headers);
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const firstMessage = await json(first);
    expect((await json(again)).id).toBe(firstMessage.id);
    const conflict = await gw.send({ to: TO, body: 'Something else' }, headers);
    expect(conflict.status).toBe(409);
    expect((await json(conflict)).error.code).toBe('idempotency_conflict');
    await gw.waitForStatus(firstMessage.id, 'delivered');
    expect(gw.sim.messages()).toHaveLength(1);
    expect(await outboundCount()).toBe(1);
  });

  it('answers concurrent requests with the same key with one message', async () => {
    gw = await startSendGateway();
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => gw.send({ to: TO, body: 'once' }, { 'idempotency-key': 'race' })),
    );
    const ids = new Set(await Promise.all(responses.map(async (r) => (await json(r)).id)));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(202));
    expect(ids.size).toBe(1);
    expect(await outboundCount()).toBe(1);
  });

  it('refuses a provider that cannot send here', async () => {
    gw = await startSendGateway({
      env: { TELNYX_API_KEY: '', TELNYX_PUBLIC_KEY: '' },
      config: { providers: { twilio: { from: TWILIO_FROM } } },
    });
    const res = await gw.send({ to: TO, body: 'x', provider: 'telnyx' });
    expect(res.status).toBe(422);
    expect((await json(res)).error.code).toBe('provider_unavailable');
  });
});

describe('without sending credentials', () => {
  let plain: TestGateway;
  afterEach(async () => plain?.close());

  it('answers 503 no_provider_available', async () => {
    plain = await startGateway({
      TWILIO_ACCOUNT_SID: '',
      TWILIO_AUTH_TOKEN: '',
      SWITCHBOARD_SANDBOX: 'false',
    });
    const res = await fetch(`${plain.base}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: TO, body: 'x' }),
    });
    expect(res.status).toBe(503);
    expect((await json(res)).error.code).toBe('no_provider_available');
  });
});

describe('POST /v1/messages/batch', () => {
  it('answers per item: valid ones are queued and sent, bad ones refused alone', async () => {
    gw = await startSendGateway();
    await gw.store.ingest([
      {
        event: {
          kind: 'inbound_message',
          dedupeKey: 'stop-1',
          provider: 'twilio',
          providerMessageId: 'SMstop',
          providerStatus: 'received',
          channel: 'sms',
          from: '+14155550155',
          to: TWILIO_FROM,
          cc: [],
          body: 'STOP',
          media: [],
          segments: 1,
          encoding: 'GSM-7',
          occurredAt: Date.now(),
        },
        optOut: 'add',
      },
    ]);
    const res = await gw.send(
      {
        messages: [
          { to: TO, body: 'one' },
          { to: 'nope', body: 'two' },
          { to: '+14155550155', body: 'three' },
          { to: TO, body: 'four', colour: 'red' },
          { to: '+14155550166', body: 'five' },
        ],
      },
      {},
      '/v1/messages/batch',
    );
    expect(res.status).toBe(207);
    const payload = await json(res);
    expect(payload).toMatchObject({ accepted: 2, rejected: 3 });
    expect(payload.data.map((d: { status: number }) => d.status)).toEqual([202, 400, 422, 400, 202]);
    expect(payload.data[1].error.code).toBe('invalid_phone_number');
    expect(payload.data[2].error.code).toBe('recipient_opted_out');
    expect(payload.data[3].error).toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('colour'),
    });
    await gw.sim.waitForMessages(2);
    expect(
      gw.sim
        .messages()
        .map((m) => m.body)
        .sort(),
    ).toEqual(['five', 'one']);
  });

  it('maps an Idempotency-Key on the batch to each item, so a retried batch sends nothing twice', async () => {
    gw = await startSendGateway();
    const batch = {
      messages: [
        { to: TO, body: 'a' },
        { to: TO, body: 'b' },
      ],
    };
    const first = await json(await gw.send(batch, { 'idempotency-key': 'batch-7' }, '/v1/messages/batch'));
    const second = await json(await gw.send(batch, { 'idempotency-key': 'batch-7' }, '/v1/messages/batch'));
    expect(second.data.map((d: { replayed: boolean }) => d.replayed)).toEqual([true, true]);
    expect(second.data.map((d: { message: { id: string } }) => d.message.id)).toEqual(
      first.data.map((d: { message: { id: string } }) => d.message.id),
    );
    expect(await outboundCount()).toBe(2);
  });

  it('accepts 1000 messages and refuses 1001', async () => {
    gw = await startSendGateway({ sim: { callbacks: { enabled: false } } });
    const many = (n: number) => ({
      messages: Array.from({ length: n }, (_, i) => ({ to: TO, body: `n${i}` })),
    });
    const tooMany = await gw.send(many(1001), {}, '/v1/messages/batch');
    expect(tooMany.status).toBe(400);
    expect((await json(tooMany)).error.code).toBe('invalid_request');
    const ok = await gw.send(many(1000), {}, '/v1/messages/batch');
    expect(ok.status).toBe(202);
    expect((await json(ok)).accepted).toBe(1000);
    expect(await gw.store.loadOutbox('twilio', null, 2000).then((rows) => rows.length)).toBeLessThanOrEqual(
      1000,
    );
  });
});

describe('batch idempotency by content', () => {
  it('matches a retried batch item for item even without the items refused the first time', async () => {
    gw = await startSendGateway();
    const key = { 'idempotency-key': 'nightly-42' };
    const a = { to: TO, body: 'A' };
    const c = { to: TO, body: 'C' };
    const first = await json(
      await gw.send({ messages: [a, { to: 'bad', body: 'B' }, c] }, key, '/v1/messages/batch'),
    );
    const retry = await json(await gw.send({ messages: [a, c] }, key, '/v1/messages/batch'));
    expect(retry.data.map((d: { replayed: boolean }) => d.replayed)).toEqual([true, true]);
    expect(retry.data[1].message.id).toBe(first.data[2].message.id);
    // Two identical items are two messages, and stay two on a retry.
    const twice = { messages: [a, a] };
    const t1 = await json(await gw.send(twice, { 'idempotency-key': 'twice' }, '/v1/messages/batch'));
    const t2 = await json(await gw.send(twice, { 'idempotency-key': 'twice' }, '/v1/messages/batch'));
    expect(new Set(t1.data.map((d: { message: { id: string } }) => d.message.id)).size).toBe(2);
    expect(t2.data.map((d: { replayed: boolean }) => d.replayed)).toEqual([true, true]);
    expect(await outboundCount()).toBe(4);
  });
});
