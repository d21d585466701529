import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telnyxKeys, telnyxReceived, twilioInbound, unique } from '../helpers/carriers.js';
import { API_KEY, startGateway, type TestGateway, json } from '../helpers/gateway.js';

const keys = telnyxKeys();
let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ TELNYX_PUBLIC_KEY: keys.publicKey });
  for (let i = 0; i < 5; i++)
    await gw.postTwilio(twilioInbound({ From: `+1415555020${i}`, Body: `twilio ${i}` }));
  await gw.postTelnyx(keys, telnyxReceived({ text: 'from telnyx' }));
});
afterAll(async () => gw.close());

describe('API authentication', () => {
  it('requires a configured bearer key', async () => {
    expect((await fetch(`${gw.base}/v1/messages`)).status).toBe(401);
    const wrong = await gw.api('/v1/messages', 'not-the-right-key-at-all');
    expect(wrong.status).toBe(401);
    expect((await json(wrong)).error.code).toBe('unauthorized');
    const basic = await fetch(`${gw.base}/v1/messages`, { headers: { authorization: `Basic ${API_KEY}` } });
    expect(basic.status).toBe(401);
  });

  it('answers 401 with how to set a key when none is configured', async () => {
    const locked = await startGateway({ SWITCHBOARD_API_KEYS: '' });
    try {
      const res = await locked.api('/v1/messages');
      expect(res.status).toBe(401);
      const body = await json(res);
      expect(body.error.code).toBe('api_keys_not_configured');
      expect(body.error.message).toContain('SWITCHBOARD_API_KEYS');
    } finally {
      await locked.close();
    }
  });

  it('serves /healthz and /readyz without a key', async () => {
    expect(await json(await fetch(`${gw.base}/healthz`))).toEqual({ status: 'ok' });
    expect(await json(await fetch(`${gw.base}/readyz`))).toEqual({ status: 'ready' });
  });
});

describe('GET /v1/messages/:id', () => {
  it('returns the message in the documented shape with its events', async () => {
    const { data } = await json(await gw.api('/v1/messages?provider=twilio&limit=1'));
    const res = await gw.api(`/v1/messages/${data[0].id}`);
    expect(res.status).toBe(200);
    const message = await json(res);
    for (const key of [
      'id',
      'provider',
      'providerMessageId',
      'direction',
      'channel',
      'from',
      'to',
      'body',
      'media',
      'status',
      'segments',
      'encoding',
      'errorCode',
      'errorMessage',
      'createdAt',
      'updatedAt',
      'redactedAt',
      'events',
    ]) {
      expect(message).toHaveProperty(key);
    }
    expect(message.events[0]).toEqual({
      status: 'received',
      providerStatus: 'received',
      provider: 'twilio',
      recipient: null,
      errorCode: null,
      errorMessage: null,
      occurredAt: expect.any(String),
      providerTime: null,
    });
    expect(new Date(message.createdAt).toISOString()).toBe(message.createdAt);
  });

  it('answers 404 message_not_found for an unknown id', async () => {
    const res = await gw.api(`/v1/messages/${unique('x')}`);
    expect(res.status).toBe(404);
    expect((await json(res)).error.code).toBe('message_not_found');
  });
});

describe('GET /v1/messages', () => {
  it('filters by provider, channel, direction, status and number', async () => {
    const count = async (q: string) => (await json(await gw.api(`/v1/messages?${q}`))).data.length;
    expect(await count('provider=twilio')).toBe(5);
    expect(await count('provider=telnyx')).toBe(1);
    expect(await count('channel=sms&direction=inbound&status=received')).toBe(6);
    expect(await count('direction=outbound')).toBe(0);
    expect(await count('from=%2B14155550203')).toBe(1);
    // An unencoded + arrives as a space; it is repaired rather than silently matching nothing.
    expect(await count('from=+14155550203')).toBe(1);
    expect(await count(`since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).toBe(0);
  });

  it('pages with an opaque cursor until nextCursor is null', async () => {
    const ids: string[] = [];
    let url = '/v1/messages?limit=4';
    for (;;) {
      const page = await json(await gw.api(url));
      ids.push(...page.data.map((m: { id: string }) => m.id));
      if (!page.nextCursor) break;
      url = `/v1/messages?limit=4&cursor=${page.nextCursor}`;
    }
    expect(ids).toHaveLength(6);
    expect(new Set(ids).size).toBe(6);
  });

  it('answers 400 for bad filters and cursors', async () => {
    for (const q of [
      'status=lost',
      'limit=0',
      'limit=500',
      'provider=nexmo',
      'since=yesterday',
      'bogus=1',
      'cursor=abc',
    ]) {
      const res = await gw.api(`/v1/messages?${q}`);
      expect(res.status, q).toBe(400);
      expect((await json(res)).error.code).toMatch(/^invalid_(request|cursor)$/);
    }
  });
});
