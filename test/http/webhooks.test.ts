import twilio from 'twilio';
import { afterEach, describe, expect, it } from 'vitest';
import {
  formBody,
  telnyxKeys,
  telnyxReceived,
  telnyxStatusEvent,
  TWILIO_TOKEN,
  TWILIO_TOKEN_SECONDARY,
  twilioInbound,
  twilioSignature,
  twilioStatus,
  unique,
} from '../helpers/carriers.js';
import { startGateway, type TestGateway, json } from '../helpers/gateway.js';
import { captureLogs } from '../helpers/log-capture.js';

const keys = telnyxKeys();
let gw: TestGateway;
afterEach(async () => gw?.close());

describe('POST /webhooks with Twilio', () => {
  it('verifies, stores and acknowledges an inbound SMS with an empty TwiML Response', async () => {
    gw = await startGateway();
    const params = twilioInbound({ Body: 'Hello gateway' });
    const res = await gw.postTwilio(params);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(await res.text()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
    const list = await json(await gw.api('/v1/messages'));
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({
      provider: 'twilio',
      providerMessageId: params.MessageSid,
      body: 'Hello gateway',
      status: 'received',
    });
  });

  it('skips detection on /webhooks/twilio and accepts the secondary token', async () => {
    gw = await startGateway({ TWILIO_AUTH_TOKEN: `${TWILIO_TOKEN},${TWILIO_TOKEN_SECONDARY}` });
    const res = await gw.postTwilio(twilioInbound(), '/webhooks/twilio', TWILIO_TOKEN_SECONDARY);
    expect(res.status).toBe(200);
  });

  it('rebuilds the signed URL from PUBLIC_BASE_URL behind a proxy', async () => {
    gw = await startGateway({ PUBLIC_BASE_URL: 'https://sms.example.com/gw' });
    const params = twilioInbound();
    const signature = twilioSignature('https://sms.example.com/gw/webhooks?tenant=a', params);
    const res = await gw.post('/webhooks?tenant=a', {
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body: formBody(params),
    });
    expect(res.status).toBe(200);
  });

  it('rebuilds the signed URL from X-Forwarded-Proto/Host without PUBLIC_BASE_URL', async () => {
    gw = await startGateway();
    const params = twilioInbound();
    const signature = twilioSignature('https://public.example.com/webhooks', params);
    const res = await gw.post('/webhooks', {
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signature,
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'public.example.com',
      },
      body: formBody(params),
    });
    expect(res.status).toBe(200);
  });

  it('verifies a Twilio JSON webhook by its bodySHA256, acknowledges it and stores nothing', async () => {
    gw = await startGateway();
    const body = JSON.stringify({ event: 'some.other.product', value: 1 });
    const path = `/webhooks/twilio?bodySHA256=${twilio.getExpectedBodyHash(body)}`;
    const signature = twilio.getExpectedTwilioSignature(TWILIO_TOKEN, gw.base + path, {});
    const send = (b: string) =>
      gw.post(path, {
        headers: { 'content-type': 'application/json', 'x-twilio-signature': signature },
        body: b,
      });
    const ok = await send(body);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('<Response/>');
    expect((await send(body.replace('1', '2'))).status).toBe(403); // the body no longer matches its hash
    expect((await gw.store.listMessages({}, { limit: 10 })).data).toHaveLength(0);
  });

  it('moves an outbound message forward with status callbacks, ignoring a late one', async () => {
    gw = await startGateway();
    const sid = unique('SM');
    // `sending` arrives after `delivered` (callbacks are unordered); `delivered` again is a retry (same SID + status).
    for (const s of ['sent', 'delivered', 'sending', 'delivered']) {
      expect((await gw.postTwilio(twilioStatus(sid, s))).status).toBe(200);
    }
    const list = await json(await gw.api('/v1/messages?direction=outbound'));
    const message = await json(await gw.api(`/v1/messages/${list.data[0].id}`));
    expect(message.status).toBe('delivered');
    expect(message.events.map((e: { providerStatus: string }) => e.providerStatus)).toEqual([
      'sent',
      'delivered',
      'sending',
    ]);
  });

  it('keeps and logs a status Twilio added after the status table was written', async () => {
    const logs = captureLogs();
    gw = await startGateway({}, { logger: logs.logger });
    const sid = unique('SM');
    await gw.postTwilio(twilioStatus(sid, 'sent'));
    expect((await gw.postTwilio(twilioStatus(sid, 'beamed_to_orbit'))).status).toBe(200);
    const [message] = (await gw.store.listMessages({ provider: 'twilio' }, { limit: 1 })).data;
    expect(message?.status).toBe('sent');
    const full = await gw.store.getMessage(message!.id);
    expect(full?.events.at(-1)).toMatchObject({ status: null, providerStatus: 'beamed_to_orbit' });
    expect(logs.lines).toContainEqual(
      expect.objectContaining({
        level: 40,
        provider: 'twilio',
        providerStatus: 'beamed_to_orbit',
        messageId: message!.id,
      }),
    );
  });

  it('acknowledges a duplicate delivery without storing it twice', async () => {
    gw = await startGateway();
    const params = twilioInbound();
    expect((await gw.postTwilio(params)).status).toBe(200);
    expect((await gw.postTwilio(params)).status).toBe(200);
    const list = await json(await gw.api('/v1/messages'));
    expect(list.data).toHaveLength(1);
    const message = await json(await gw.api(`/v1/messages/${list.data[0].id}`));
    expect(message.events).toHaveLength(1);
  });
});

describe('POST /webhooks with Telnyx', () => {
  it('verifies, stores and acknowledges message.received with JSON', async () => {
    gw = await startGateway({ TELNYX_PUBLIC_KEY: keys.publicKey });
    const body = telnyxReceived({ text: 'Hi Telnyx' });
    const res = await gw.postTelnyx(keys, body);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const list = await json(await gw.api('/v1/messages?provider=telnyx'));
    expect(list.data[0]).toMatchObject({
      body: 'Hi Telnyx',
      from: '+13125550001',
      to: '+17735550002',
      status: 'received',
    });
  });

  it('applies message.sent then message.finalized per recipient, and keeps the error code', async () => {
    gw = await startGateway({ TELNYX_PUBLIC_KEY: keys.publicKey });
    const id = crypto.randomUUID();
    await gw.postTelnyx(
      keys,
      telnyxStatusEvent('message.sent', id, [{ phone: '+13125550002', status: 'sent' }]),
      '/webhooks/telnyx',
    );
    const failed = telnyxStatusEvent(
      'message.finalized',
      id,
      [{ phone: '+13125550002', status: 'delivery_failed' }],
      [{ code: '40300', title: 'Blocked due to STOP' }],
    );
    expect((await gw.postTelnyx(keys, failed)).status).toBe(200);
    const list = await json(await gw.api('/v1/messages?provider=telnyx'));
    expect(list.data[0]).toMatchObject({ status: 'undelivered', errorCode: '40300', providerMessageId: id });
  });

  it('acknowledges and does not store event types it does not handle', async () => {
    gw = await startGateway({ TELNYX_PUBLIC_KEY: keys.publicKey });
    const res = await gw.postTelnyx(keys, {
      data: { event_type: 'call.initiated', id: 'c1', record_type: 'event', payload: {} },
    });
    expect(res.status).toBe(200);
    expect((await json(await gw.api('/v1/messages'))).data).toHaveLength(0);
  });

  it('acknowledges a retried event (same data.id) once', async () => {
    gw = await startGateway({ TELNYX_PUBLIC_KEY: keys.publicKey });
    const body = telnyxReceived();
    await gw.postTelnyx(keys, body);
    await gw.postTelnyx(keys, { ...body, meta: { attempt: 2, delivered_to: 'x' } });
    expect((await json(await gw.api('/v1/messages'))).data).toHaveLength(1);
  });
});
