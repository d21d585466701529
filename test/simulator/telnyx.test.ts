import nacl from 'tweetnacl';
import { AuthenticationError } from 'telnyx';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StatusEvent } from '../../src/core/provider.js';
import { parseTelnyx } from '../../src/providers/telnyx/parse.js';
import { TelnyxSignatureVerifier } from '../../src/providers/telnyx/verify.js';
import { ProviderSimulator, SANDBOX_TELNYX, SANDBOX_TELNYX_FROM } from '../../src/simulator/simulator.js';
import { TelnyxSigner } from '../../src/simulator/telnyx-webhooks.js';
import {
  jsonBody,
  rawWebhook,
  rejection,
  startReceiver,
  telnyxClient,
  type Receiver,
  type Received,
} from './helpers.js';

let sim: ProviderSimulator;
let receiver: Receiver;
let verifier: TelnyxSignatureVerifier;

beforeAll(async () => {
  receiver = await startReceiver((r, i) =>
    r.path.startsWith('/down') || (r.path.startsWith('/flaky') && i === 0) ? 503 : 200,
  );
  sim = await ProviderSimulator.start({
    callbacks: { sentDelayMs: 5, deliveredDelayMs: 5, retryDelayMs: 5 },
  });
  verifier = new TelnyxSignatureVerifier([sim.telnyxPublicKey]);
});

afterAll(async () => {
  await sim.close();
  await receiver.close();
});

beforeEach(async () => {
  await sim.callbacksIdle();
  sim.resetFaults();
  sim.resetRecords();
  sim.setDefaultWebhookUrl(null);
  receiver.requests.length = 0;
});

/** Checks the Ed25519 signature with the gateway's verifier and with tweetnacl, independently. */
async function expectSigned(r: Received): Promise<void> {
  const signature = String(r.headers['telnyx-signature-ed25519']);
  const timestamp = String(r.headers['telnyx-timestamp']);
  expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
  expect(await verifier.verify(signature, timestamp, r.body)).toEqual({ ok: true });
  const signed = Buffer.concat([Buffer.from(`${timestamp}|`), r.body]);
  expect(
    nacl.sign.detached.verify(
      signed,
      Buffer.from(signature, 'base64'),
      Buffer.from(sim.telnyxPublicKey, 'base64'),
    ),
  ).toBe(true);
}

describe('Telnyx /v2/messages through the official SDK', () => {
  it('answers a send with the message record the SDK returns', async () => {
    const { data } = await telnyxClient(sim).messages.send({
      to: '+14155550123',
      from: '+14155550100',
      text: 'Hello from the simulator',
      webhook_url: `${receiver.base}/telnyx`,
    });
    expect(data?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(data).toMatchObject({
      record_type: 'message',
      direction: 'outbound',
      type: 'SMS',
      from: { phone_number: '+14155550100', carrier: 'Telnyx', line_type: 'Wireless' },
      to: [{ phone_number: '+14155550123', status: 'queued' }],
      text: 'Hello from the simulator',
      encoding: 'GSM-7',
      parts: 1,
      cost: null,
      sent_at: null,
      completed_at: null,
      errors: [],
      tags: [],
      webhook_url: `${receiver.base}/telnyx`,
      messaging_profile_id: SANDBOX_TELNYX.messagingProfileId,
    });
    expect(Date.parse(data?.received_at ?? '')).toBeGreaterThan(Date.now() - 5_000);
    expect(sim.messages('telnyx')).toEqual([
      expect.objectContaining({
        provider: 'telnyx',
        id: data?.id,
        segments: 1,
        statusCallback: `${receiver.base}/telnyx`,
      }),
    ]);
  });

  it('sends from the messaging profile number, counts UCS-2 parts, and takes media as an MMS', async () => {
    const client = telnyxClient(sim);
    const pooled = await client.messages.send({
      to: '+14155550123',
      messaging_profile_id: SANDBOX_TELNYX.messagingProfileId,
      text: 'é'.repeat(10) + '✓'.repeat(70),
    });
    expect(pooled.data).toMatchObject({
      from: { phone_number: SANDBOX_TELNYX_FROM },
      encoding: 'UCS-2',
      parts: 2,
    });
    const mms = await client.messages.send({
      to: '+14155550123',
      from: '+14155550100',
      text: 'x'.repeat(400),
      media_urls: ['https://example.com/a.png'],
    });
    expect(mms.data).toMatchObject({ type: 'MMS', parts: 1, media: [{ url: 'https://example.com/a.png' }] });
  });

  it('refuses what Telnyx refuses, with its error body', async () => {
    const client = telnyxClient(sim);
    const badTo = await rejection(client.messages.send({ to: '12345', from: '+14155550100', text: 'x' }));
    expect(badTo.status).toBe(400);
    expect(badTo.error).toEqual({
      errors: [
        {
          code: '40310',
          title: "Invalid 'to' address",
          detail: "The 'to' address should be a single valid number.",
          meta: { url: 'https://developers.telnyx.com/docs/overview/errors/40310' },
          source: { pointer: '/to' },
        },
      ],
    });
    const noFrom = await rejection(client.messages.send({ to: '+14155550123', text: 'x' }));
    expect(noFrom).toMatchObject({
      status: 422,
      error: { errors: [{ code: '10004', source: { pointer: '/from' } }] },
    });
    const noText = await rejection(client.messages.send({ to: '+14155550123', from: '+14155550100' }));
    expect(noText).toMatchObject({
      status: 422,
      error: { errors: [{ code: '10004', source: { pointer: '/text' } }] },
    });
  });

  it("counts parts with Telnyx's own GSM-7 set: € and Ç are UTF-16 there", async () => {
    const client = telnyxClient(sim);
    const plain = await client.messages.send({
      to: '+14155550123',
      from: '+14155550100',
      text: 'a'.repeat(161),
    });
    expect(plain.data).toMatchObject({ encoding: 'GSM-7', parts: 2 });
    const euro = await client.messages.send({
      to: '+14155550123',
      from: '+14155550100',
      text: 'Ça fait 5 €',
    });
    expect(euro.data).toMatchObject({ encoding: 'UCS-2', parts: 1 });
  });

  it('sends a group MMS to every destination: the first in to, the others in cc', async () => {
    sim.setDefaultWebhookUrl(`${receiver.base}/group`);
    const client = telnyxClient(sim);
    const { data } = await client.messages.sendGroupMms({
      from: '+13125550001',
      to: ['+14155550123', '+14155550177', '+14155550178'],
      text: 'See you all at 8',
    });
    expect(data).toMatchObject({
      type: 'MMS',
      from: { phone_number: '+13125550001' },
      to: [{ phone_number: '+14155550123', status: 'queued' }],
      cc: [
        { phone_number: '+14155550177', status: 'queued' },
        { phone_number: '+14155550178', status: 'queued' },
      ],
    });
    expect(sim.messages('telnyx')).toEqual([
      expect.objectContaining({ to: '+14155550123', cc: ['+14155550177', '+14155550178'], segments: 1 }),
    ]);
    const tooMany = Array.from({ length: 9 }, (_, i) => `+1415555020${i}`);
    await expect(
      client.messages.sendGroupMms({ from: '+13125550001', to: tooMany, text: 'x' }),
    ).rejects.toMatchObject({ status: 400 });
    // The group API has no messaging-profile pool: it needs the sender's number.
    await expect(
      client.messages.sendGroupMms({ from: '', to: ['+14155550123'], text: 'x' }),
    ).rejects.toMatchObject({ status: 422, error: { errors: [{ code: '10004' }] } });
  });

  it('answers a 429 with x-ratelimit-limit, -remaining and -reset, and no Retry-After', async () => {
    sim.setFaults('telnyx', { script: [{ status: 429, retryAfterSeconds: 3 }] });
    const err = await rejection(
      telnyxClient(sim).messages.send({ to: '+14155550123', from: '+14155550100', text: 'x' }),
    );
    const headers = err.headers as Headers;
    expect(err).toMatchObject({ status: 429, error: { errors: [{ code: '10011' }] } });
    expect(headers.get('retry-after')).toBeNull();
    expect(headers.get('x-ratelimit-remaining')).toBe('0');
    expect(headers.get('x-ratelimit-reset')).toBe('3');
    expect(Number(headers.get('x-ratelimit-limit'))).toBeGreaterThan(0);
  });

  it('answers a wrong API key with 401 / 10009', async () => {
    const err = await rejection(
      telnyxClient(sim, 5_000, 'KEY_wrong').messages.send({ to: '+14155550123', from: '+1415', text: 'x' }),
    );
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err.error).toMatchObject({ errors: [{ code: '10009', title: 'Authentication failed' }] });
  });
});

describe('Telnyx status events', () => {
  it('posts message.sent then message.finalized, signed, in the shape the gateway parses', async () => {
    const { data } = await telnyxClient(sim).messages.send({
      to: '+14155550123',
      from: '+14155550100',
      text: 'hi',
      webhook_url: `${receiver.base}/events`,
    });
    await sim.callbacksIdle();
    expect(receiver.requests.map((r) => jsonBody(r).data.event_type)).toEqual([
      'message.sent',
      'message.finalized',
    ]);
    for (const r of receiver.requests) {
      await expectSigned(r);
      expect(jsonBody(r).meta).toEqual({ attempt: 1, delivered_to: `${receiver.base}/events` });
    }
    const events = receiver.requests.flatMap((r) => parseTelnyx(rawWebhook(r, 'json'))) as StatusEvent[];
    expect(events.map((e) => [e.kind, e.providerMessageId, e.status, e.to, e.errorCode])).toEqual([
      ['status', data?.id, 'sent', '+14155550123', null],
      ['status', data?.id, 'delivered', '+14155550123', null],
    ]);
    const finalized = jsonBody(receiver.requests[1]!).data.payload;
    expect(finalized).toMatchObject({ cost: { amount: '0.0040', currency: 'USD' }, errors: [] });
    expect(finalized.completed_at).not.toBeNull();
    expect(finalized.sent_at).not.toBeNull();
    expect(sim.messages()[0]?.status).toBe('delivered');
  });

  it('reports deliveryFailures in message.finalized: delivery_failed, or sending_failed alone', async () => {
    sim.setFaults('telnyx', { deliveryFailures: { '+14155550666': '40001', '+14155550777': '40300' } });
    sim.setDefaultWebhookUrl(`${receiver.base}/profile`);
    const client = telnyxClient(sim);
    const unroutable = await client.messages.send({ to: '+14155550666', from: '+14155550100', text: 'x' });
    const stopped = await client.messages.send({ to: '+14155550777', from: '+14155550100', text: 'x' });
    await sim.callbacksIdle();
    // No webhook_url on the messages: the profile's (default) URL got them.
    expect(receiver.requests.every((r) => r.path === '/profile')).toBe(true);

    const events = receiver.requests.flatMap((r) => parseTelnyx(rawWebhook(r, 'json'))) as StatusEvent[];
    const of = (id: string | undefined) => events.filter((e) => e.providerMessageId === id);
    expect(of(unroutable.data?.id).map((e) => [e.providerStatus, e.errorCode, e.errorMessage])).toEqual([
      ['sent', null, null],
      [
        'delivery_failed',
        '40001',
        'Not routable: The destination number is either a landline or a non-routable wireless number.',
      ],
    ]);
    expect(of(stopped.data?.id).map((e) => [e.providerStatus, e.status, e.errorCode])).toEqual([
      ['sending_failed', 'failed', '40300'],
    ]);
  });

  it('sends nothing when use_profile_webhooks is false and there is no webhook_url', async () => {
    sim.setDefaultWebhookUrl(`${receiver.base}/profile`);
    await telnyxClient(sim).messages.send({
      to: '+14155550123',
      from: '+14155550100',
      text: 'x',
      use_profile_webhooks: false,
    });
    await sim.callbacksIdle();
    expect(receiver.requests).toHaveLength(0);
  });

  it('retries with the same event id and a counted attempt, then falls back to the failover URL', async () => {
    await telnyxClient(sim).messages.send({
      to: '+14155550123',
      from: '+14155550100',
      text: 'x',
      webhook_url: `${receiver.base}/flaky`,
    });
    await sim.callbacksIdle();
    const sent = receiver.requests.filter((r) => jsonBody(r).data.event_type === 'message.sent');
    expect(sent.map((r) => jsonBody(r).meta.attempt)).toEqual([1, 2]);
    expect(jsonBody(sent[0]!).data.id).toBe(jsonBody(sent[1]!).data.id);
    await expectSigned(sent[1]!);

    receiver.requests.length = 0;
    await telnyxClient(sim).messages.send({
      to: '+14155550123',
      from: '+14155550100',
      text: 'x',
      webhook_url: `${receiver.base}/down`,
      webhook_failover_url: `${receiver.base}/failover`,
    });
    await sim.callbacksIdle();
    const paths = receiver.requests.map(
      (r) => `${jsonBody(r).data.event_type} ${r.path} ${jsonBody(r).meta.attempt}`,
    );
    expect(paths.slice(0, 4)).toEqual([
      'message.sent /down 1',
      'message.sent /down 2',
      'message.sent /down 3',
      'message.sent /failover 1',
    ]);
    expect(jsonBody(receiver.requests[3]!).meta.delivered_to).toBe(`${receiver.base}/failover`);
  });
});

describe('Telnyx inbound injection', () => {
  it('posts a signed message.received the gateway parser accepts, to the default URL', async () => {
    sim.setDefaultWebhookUrl(`${receiver.base}/inbound`);
    const result = await sim.injectInbound({
      provider: 'telnyx',
      from: '+14155550123',
      to: '+13125550001',
      body: 'Hi!',
    });
    expect(result.status).toBe(200);
    const r = receiver.requests[0]!;
    expect(r.path).toBe('/inbound');
    await expectSigned(r);
    expect(parseTelnyx(rawWebhook(r, 'json'))).toEqual([
      expect.objectContaining({
        kind: 'inbound_message',
        providerMessageId: result.providerMessageId,
        providerStatus: 'webhook_delivered',
        channel: 'sms',
        from: '+14155550123',
        to: '+13125550001',
        body: 'Hi!',
        segments: 1,
        encoding: 'GSM-7',
      }),
    ]);
  });

  it('lists the other participants of a group MMS in cc', async () => {
    const result = await sim.injectInbound({
      provider: 'telnyx',
      from: '+14155550123',
      to: '+13125550001',
      cc: ['+14155550177'],
      body: 'Dinner?',
      webhookUrl: `${receiver.base}/group-inbound`,
    });
    expect(result.status).toBe(200);
    const r = receiver.requests[0]!;
    expect(jsonBody(r)).toMatchObject({
      data: {
        payload: {
          type: 'MMS',
          to: [{ phone_number: '+13125550001' }],
          cc: [{ phone_number: '+14155550177', status: 'webhook_delivered' }],
        },
      },
    });
    expect(parseTelnyx(rawWebhook(r, 'json'))).toEqual([
      expect.objectContaining({ channel: 'mms', to: '+13125550001', cc: ['+14155550177'] }),
    ]);
    await expect(
      sim.injectInbound({
        provider: 'twilio',
        from: '+14155550123',
        to: '+14155550100',
        cc: ['+14155550177'],
        body: 'x',
        webhookUrl: `${receiver.base}/never`,
      }),
    ).rejects.toThrow(/Telnyx group MMS only/);
  });

  it('returns the receiver status when it refuses', async () => {
    const result = await sim.injectInbound({
      provider: 'telnyx',
      from: '+14155550123',
      to: '+13125550001',
      body: 'x',
      webhookUrl: `${receiver.base}/down`,
    });
    expect(result.status).toBe(503);
  });
});

describe('Telnyx signing', () => {
  it('signs exactly as nacl.sign.detached with the seed key pair, and publishes its public key', () => {
    const signer = new TelnyxSigner(SANDBOX_TELNYX.signingSeed);
    const pair = nacl.sign.keyPair.fromSeed(SANDBOX_TELNYX.signingSeed);
    expect(signer.publicKey).toBe(Buffer.from(pair.publicKey).toString('base64'));
    expect(signer.publicKey).toBe(SANDBOX_TELNYX.publicKey);
    for (const body of ['{}', '{"data":{"text":"✓ héllo"}}', 'x'.repeat(5000)]) {
      const expected = Buffer.from(
        nacl.sign.detached(Buffer.from(`1700000000|${body}`), pair.secretKey),
      ).toString('base64');
      expect(signer.sign(body, 1_700_000_000)).toBe(expected);
    }
  });
});
