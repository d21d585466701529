import http from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StatusEvent } from '../../src/core/provider.js';
import { parseTwilio } from '../../src/providers/twilio/parse.js';
import { ProviderSimulator, SANDBOX_TWILIO, SANDBOX_TWILIO_FROM } from '../../src/simulator/simulator.js';
import { formParams, rawWebhook, rejection, startReceiver, twilioClient, type Receiver } from './helpers.js';

let sim: ProviderSimulator;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver((r, i) => (r.path.startsWith('/flaky') && i % 2 === 0 ? 500 : 200));
  sim = await ProviderSimulator.start({
    callbacks: { sentDelayMs: 5, deliveredDelayMs: 5, retryDelayMs: 5 },
  });
});

afterAll(async () => {
  await sim.close();
  await receiver.close();
});

beforeEach(async () => {
  await sim.callbacksIdle();
  sim.resetFaults();
  sim.resetRecords();
  receiver.requests.length = 0;
});

describe('Twilio Messages API through the official SDK', () => {
  it('answers a create with the Message resource the SDK parses', async () => {
    const message = await twilioClient(sim).messages.create({
      to: '+14155550123',
      from: '+14155550100',
      body: 'Hello from the simulator',
    });
    expect(message.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(message).toMatchObject({
      accountSid: SANDBOX_TWILIO.accountSid,
      apiVersion: '2010-04-01',
      body: 'Hello from the simulator',
      direction: 'outbound-api',
      status: 'queued',
      numSegments: '1',
      numMedia: '0',
      from: '+14155550100',
      to: '+14155550123',
      messagingServiceSid: null,
      errorCode: null,
      price: null,
      uri: `/2010-04-01/Accounts/${SANDBOX_TWILIO.accountSid}/Messages/${message.sid}.json`,
    });
    expect(message.dateCreated).toBeInstanceOf(Date);
    expect(Math.abs(message.dateCreated.getTime() - Date.now())).toBeLessThan(5_000);

    expect(sim.messages('twilio')).toEqual([
      expect.objectContaining({
        provider: 'twilio',
        id: message.sid,
        from: '+14155550100',
        to: '+14155550123',
        segments: 1,
        encoding: 'GSM-7',
        mediaUrls: [],
        statusCallback: null,
      }),
    ]);
    expect(sim.stats('twilio')).toEqual({
      requests: 1,
      accepted: 1,
      rateLimited: 0,
      errors: 0,
      timeouts: 0,
      queued: 0,
      queueFull: 0,
      expired: 0,
    });
  });

  it('meters segments (UCS-2 text) and sends media as an MMS counting one', async () => {
    const client = twilioClient(sim);
    const long = await client.messages.create({
      to: '+14155550123',
      from: '+14155550100',
      body: '✓'.repeat(71),
    });
    expect(long.numSegments).toBe('2');
    const mms = await client.messages.create({
      to: '+14155550123',
      from: '+14155550100',
      body: 'x'.repeat(500),
      mediaUrl: ['https://example.com/a.png', 'https://example.com/b.jpg'],
    });
    expect(mms.sid).toMatch(/^MM[0-9a-f]{32}$/);
    expect(mms.numSegments).toBe('1');
    expect(mms.numMedia).toBe('2');
    expect(sim.messages()[1]?.mediaUrls).toEqual(['https://example.com/a.png', 'https://example.com/b.jpg']);
  });

  it('counts num_segments as Twilio does: GSM-7 with its extension table, UCS-2 by whole characters', async () => {
    const client = twilioClient(sim);
    const segments = async (body: string) =>
      (await client.messages.create({ to: '+14155550123', from: '+14155550100', body })).numSegments;
    // 160 septets fit one segment; an extension character (€ [ ] { } ~ ^ | backslash, form feed) takes two.
    expect(await segments(`${'x'.repeat(158)}€`)).toBe('1');
    expect(await segments(`${'x'.repeat(159)}€`)).toBe('2');
    expect(await segments(`${'x'.repeat(158)}\f`)).toBe('1');
    // Split parts hold 153 septets, and an escaped pair never straddles two: 152 + (2) + 152 is three parts.
    expect(await segments(`${'x'.repeat(152)}€${'x'.repeat(152)}`)).toBe('3');
    // Ç, Greek capitals and ¤ are GSM-7 for Twilio.
    expect(await segments(`ÇΔΩ¤ ${'x'.repeat(155)}`)).toBe('1');
    // UCS-2: 70 units in one segment, 67 per part; a grapheme (an emoji with its skin tone, 4 units) moves whole
    // to the next part, so 65 + 4 + 64 units take three parts, not two.
    expect(await segments('✓'.repeat(70))).toBe('1');
    expect(await segments('✓'.repeat(71))).toBe('2');
    expect(await segments(`${'✓'.repeat(65)}👍🏽${'✓'.repeat(64)}`)).toBe('3');
    expect(sim.messages().map((m) => m.encoding)).toEqual([
      'GSM-7',
      'GSM-7',
      'GSM-7',
      'GSM-7',
      'GSM-7',
      'UCS-2',
      'UCS-2',
      'UCS-2',
    ]);
  });

  it('sends through a Messaging Service without From as Twilio does: accepted, from null', async () => {
    const service = `MG${'ab'.repeat(16)}`;
    const message = await twilioClient(sim).messages.create({
      to: '+14155550123',
      messagingServiceSid: service,
      body: 'pooled',
    });
    expect(message.status).toBe('accepted');
    expect(message.from).toBeNull();
    expect(message.messagingServiceSid).toBe(service);
    expect(sim.messages()[0]).toMatchObject({ from: SANDBOX_TWILIO_FROM, messagingServiceSid: service });
  });

  it('refuses what Twilio refuses, with its error body', async () => {
    const client = twilioClient(sim);
    const tooLong = await rejection(
      client.messages.create({ to: '+14155550123', from: '+14155550100', body: 'x'.repeat(1601) }),
    );
    expect(tooLong).toMatchObject({ status: 400, code: 21617 });
    const empty = await rejection(client.messages.create({ to: '+14155550123', from: '+14155550100' }));
    expect(empty).toMatchObject({ status: 400, code: 21619 });
    const noSender = await rejection(client.messages.create({ to: '+14155550123', body: 'x' }));
    expect(noSender).toMatchObject({ status: 400, code: 21603 });
    const badTo = await rejection(
      client.messages.create({ to: 'not-a-number', from: '+14155550100', body: 'x' }),
    );
    expect(badTo).toMatchObject({
      status: 400,
      code: 21211,
      message: "The 'To' number not-a-number is not a valid phone number.",
      moreInfo: 'https://www.twilio.com/docs/errors/21211',
    });
    expect(sim.stats('twilio')).toMatchObject({ requests: 4, accepted: 0, errors: 4 });
  });

  it('answers wrong credentials with 401 / 20003', async () => {
    const wrong = twilioClient(sim, 5_000, {
      accountSid: SANDBOX_TWILIO.accountSid,
      authToken: 'f'.repeat(32),
    });
    const err = await rejection(
      wrong.messages.create({ to: '+14155550123', from: '+14155550100', body: 'x' }),
    );
    expect(err).toMatchObject({ status: 401, code: 20003, message: 'Authenticate' });
  });

  it('answers an unknown path with Twilio 404 / 20404 and a wrong method with 405', async () => {
    const auth = `Basic ${Buffer.from(`${SANDBOX_TWILIO.accountSid}:${SANDBOX_TWILIO.authToken}`).toString('base64')}`;
    const notFound = await fetch(`${sim.url}/2010-04-01/Accounts/${SANDBOX_TWILIO.accountSid}/Calls.json`, {
      method: 'POST',
      headers: { authorization: auth },
    });
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toMatchObject({ code: 20404, status: 404 });
    const get = await fetch(`${sim.url}/2010-04-01/Accounts/${SANDBOX_TWILIO.accountSid}/Messages.json`, {
      headers: { authorization: auth },
    });
    expect(get.status).toBe(405);
  });
});

describe('Twilio status callbacks', () => {
  it('posts sent then delivered, signed with the auth token, in the form the gateway parses', async () => {
    const callback = `${receiver.base}/webhooks/twilio?tenant=a`;
    const message = await twilioClient(sim).messages.create({
      to: '+14155550123',
      from: '+14155550100',
      body: 'hi',
      statusCallback: callback,
    });
    await sim.callbacksIdle();
    expect(receiver.requests).toHaveLength(2);

    const statuses = receiver.requests.map((r) => {
      const params = formParams(r);
      expect(r.url).toBe(callback);
      expect(r.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(
        twilio.validateRequest(
          SANDBOX_TWILIO.authToken,
          String(r.headers['x-twilio-signature']),
          r.url,
          params,
        ),
      ).toBe(true);
      expect(params).toMatchObject({
        MessageSid: message.sid,
        SmsSid: message.sid,
        AccountSid: SANDBOX_TWILIO.accountSid,
        From: '+14155550100',
        To: '+14155550123',
        ApiVersion: '2010-04-01',
      });
      const [event] = parseTwilio(rawWebhook(r, 'form')) as StatusEvent[];
      expect(event).toMatchObject({ kind: 'status', providerMessageId: message.sid, errorCode: null });
      return event?.status;
    });
    expect(statuses).toEqual(['sent', 'delivered']);
    expect(sim.messages()[0]?.status).toBe('delivered');
  });

  it('reports deliveryFailures: undelivered with ErrorCode, or failed without a sent first', async () => {
    sim.setFaults('twilio', { deliveryFailures: { '+14155550666': '30006', '+14155550777': '30001' } });
    const client = twilioClient(sim);
    const statusCallback = `${receiver.base}/status`;
    const landline = await client.messages.create({
      to: '+14155550666',
      from: '+14155550100',
      body: 'x',
      statusCallback,
    });
    const overflow = await client.messages.create({
      to: '+14155550777',
      from: '+14155550100',
      body: 'x',
      statusCallback,
    });
    await sim.callbacksIdle();

    const byMessage = (sid: string) =>
      receiver.requests
        .map((r) => parseTwilio(rawWebhook(r, 'form'))[0] as StatusEvent)
        .filter((e) => e.providerMessageId === sid);
    expect(byMessage(landline.sid).map((e) => [e.providerStatus, e.errorCode, e.errorMessage])).toEqual([
      ['sent', null, null],
      ['undelivered', '30006', 'Landline or unreachable carrier'],
    ]);
    expect(byMessage(overflow.sid).map((e) => [e.providerStatus, e.errorCode])).toEqual([
      ['failed', '30001'],
    ]);
  });

  it('retries a failed callback with the same signed body, and keeps going after', async () => {
    const statusCallback = `${receiver.base}/flaky`;
    await twilioClient(sim).messages.create({
      to: '+14155550123',
      from: '+14155550100',
      body: 'x',
      statusCallback,
    });
    await sim.callbacksIdle();
    // Every other request fails: sent (500), sent again (200), delivered (500), delivered again (200).
    expect(receiver.requests.map((r) => formParams(r).MessageStatus)).toEqual([
      'sent',
      'sent',
      'delivered',
      'delivered',
    ]);
    expect(receiver.requests[0]?.body).toEqual(receiver.requests[1]?.body);
    expect(receiver.requests[0]?.headers['x-twilio-signature']).toBe(
      receiver.requests[1]?.headers['x-twilio-signature'],
    );
    expect(sim.callbackStats()).toMatchObject({ delivered: 2, failedAttempts: 2, abandoned: 0 });
  });

  it('reads the #rc connection override and signs the URL without the fragment', async () => {
    const statusCallback = `${receiver.base}/flaky/rc#rc=0`;
    await twilioClient(sim).messages.create({
      to: '+14155550123',
      from: '+14155550100',
      body: 'x',
      statusCallback,
    });
    await sim.callbacksIdle();
    // No retries: the first attempt of each callback is all there is.
    expect(receiver.requests).toHaveLength(2);
    const r = receiver.requests[1]!;
    expect(r.url).toBe(`${receiver.base}/flaky/rc`);
    expect(
      twilio.validateRequest(
        SANDBOX_TWILIO.authToken,
        String(r.headers['x-twilio-signature']),
        r.url,
        formParams(r),
      ),
    ).toBe(true);
    expect(sim.callbackStats()).toMatchObject({ abandoned: 1 });
  });
});

describe('Twilio inbound injection', () => {
  it('posts a signed inbound MMS the gateway parser accepts, and returns the receiver status', async () => {
    const result = await sim.injectInbound({
      provider: 'twilio',
      from: '+14155550123',
      to: '+14155550100',
      body: 'Photo attached',
      mediaUrls: ['https://example.com/cat.jpg'],
      webhookUrl: `${receiver.base}/webhooks`,
    });
    expect(result.status).toBe(200);
    expect(result.providerMessageId).toMatch(/^MM[0-9a-f]{32}$/);
    const r = receiver.requests[0]!;
    const params = formParams(r);
    expect(
      twilio.validateRequest(
        SANDBOX_TWILIO.authToken,
        String(r.headers['x-twilio-signature']),
        r.url,
        params,
      ),
    ).toBe(true);
    expect(params).toMatchObject({ SmsStatus: 'received', NumMedia: '1', MediaContentType0: 'image/jpeg' });
    expect(parseTwilio(rawWebhook(r, 'form'))).toEqual([
      expect.objectContaining({
        kind: 'inbound_message',
        providerMessageId: result.providerMessageId,
        channel: 'mms',
        from: '+14155550123',
        to: '+14155550100',
        body: 'Photo attached',
        media: [{ url: 'https://example.com/cat.jpg', contentType: 'image/jpeg' }],
        segments: 1,
      }),
    ]);
  });

  it('rejects when there is no URL to post to', async () => {
    await expect(sim.injectInbound({ provider: 'twilio', from: '+1', to: '+2', body: 'x' })).rejects.toThrow(
      /webhookUrl/,
    );
  });
});

describe('robustness', () => {
  it('gives up on an unreachable or malformed callback URL without unhandled rejections', async () => {
    const client = twilioClient(sim);
    await client.messages.create({
      to: '+14155550123',
      from: '+14155550100',
      body: 'x',
      statusCallback: 'http://127.0.0.1:1/nobody',
    });
    await client.messages.create({
      to: '+14155550123',
      from: '+14155550100',
      body: 'x',
      statusCallback: 'not a url',
    });
    await sim.callbacksIdle();
    // Two messages x (sent, delivered) x 3 attempts.
    expect(sim.callbackStats()).toEqual({ delivered: 0, failedAttempts: 12, abandoned: 4, dropped: 0 });
  });

  it('waitForMessages resolves once enough sends were accepted', async () => {
    const waiting = sim.waitForMessages(2, 5_000);
    const client = twilioClient(sim);
    await client.messages.create({ to: '+14155550123', from: '+14155550100', body: 'one' });
    await client.messages.create({ to: '+14155550123', from: '+14155550100', body: 'two' });
    expect((await waiting).map((m) => m.body)).toEqual(['one', 'two']);
    await expect(sim.waitForMessages(3, 50)).rejects.toThrow(/3 messages; 2 accepted/);
  });

  it('close() returns promptly with a callback in flight to a receiver that never answers', async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const own = await ProviderSimulator.start({ callbacks: { sentDelayMs: 0 } });
    let arrived = false;
    silent.on('request', () => (arrived = true));
    await twilioClient(own).messages.create({
      to: '+14155550123',
      from: '+14155550100',
      body: 'x',
      statusCallback: `http://127.0.0.1:${port}/hang`,
    });
    while (!arrived) await new Promise((resolve) => setTimeout(resolve, 5));
    const idle = own.callbacksIdle();
    const started = performance.now();
    await own.close();
    await idle;
    expect(performance.now() - started).toBeLessThan(2_000);
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  });
});
