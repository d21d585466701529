import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { twilioInbound } from '../helpers/carriers.js';
import { json } from '../helpers/gateway.js';
import { startSendGateway, TELNYX_FROM, TWILIO_FROM, type SendGateway } from '../helpers/send-gateway.js';

// End to end over real HTTP: API -> store + outbox -> dispatcher -> official SDK -> simulator -> signed status
// callbacks -> webhook endpoint -> status moves forward.

let gw: SendGateway;
afterEach(async () => {
  await gw?.close();
});

const TO = '+14155550123';

async function sendOk(body: unknown, headers?: Record<string, string>): Promise<string> {
  const res = await gw.send(body, headers);
  const payload = await json(res);
  expect(res.status, JSON.stringify(payload)).toBe(202);
  return payload.id as string;
}

function config(overrides: Record<string, unknown> = {}, providers: Record<string, unknown> = {}) {
  return {
    defaultProvider: 'twilio',
    failover: ['twilio', 'telnyx'],
    providers: {
      twilio: { from: TWILIO_FROM, mps: null, concurrency: 4, maxAttempts: 3, ...providers },
      telnyx: { from: TELNYX_FROM, mps: null, concurrency: 4, maxAttempts: 3 },
    },
    retry: { baseDelayMs: 10, maxDelayMs: 40 },
    ...overrides,
  };
}

describe('delivery through the carriers', () => {
  it('sends through Twilio with the status callback URL and follows its callbacks to delivered', async () => {
    gw = await startSendGateway();
    const id = await sendOk({ to: TO, body: 'Hello from Switchboard' });
    const message = await gw.waitForStatus(id, 'delivered');
    const [sent] = gw.sim.messages('twilio');
    expect(sent).toMatchObject({
      from: TWILIO_FROM,
      to: TO,
      body: 'Hello from Switchboard',
      statusCallback: `${gw.app.listeningOrigin.replace('localhost', '127.0.0.1')}/webhooks`,
    });
    expect(message).toMatchObject({ provider: 'twilio', providerMessageId: sent!.id, from: TWILIO_FROM });
    expect(message.events.map((e) => e.status)).toEqual(['queued', 'sent', 'delivered']);
    expect(message.attempts).toEqual([
      expect.objectContaining({ provider: 'twilio', outcome: 'accepted', providerMessageId: sent!.id }),
    ]);
  });

  it('sends through Telnyx with the webhook URL, MMS media included, and follows message.finalized', async () => {
    gw = await startSendGateway();
    const id = await sendOk({
      to: TO,
      body: 'pic',
      mediaUrls: ['https://example.com/a.png'],
      provider: 'telnyx',
    });
    const message = await gw.waitForStatus(id, 'delivered');
    const [sent] = gw.sim.messages('telnyx');
    expect(sent).toMatchObject({ from: TELNYX_FROM, mediaUrls: ['https://example.com/a.png'] });
    expect(sent!.statusCallback).toMatch(/\/webhooks$/);
    expect(message).toMatchObject({ provider: 'telnyx', channel: 'mms', providerMessageId: sent!.id });
    expect(gw.sim.messages('twilio')).toHaveLength(0);
  });

  it('routes by destination prefix and by sender, as configured', async () => {
    gw = await startSendGateway({
      config: config({
        routes: [
          { toPrefix: '+44', provider: 'telnyx' },
          { from: '+14155550199', provider: 'telnyx' },
        ],
      }),
    });
    const uk = await sendOk({ to: '+447911123456', body: 'to the UK' });
    const bySender = await sendOk({ to: TO, from: '+14155550199', body: 'from our other number' });
    const plain = await sendOk({ to: TO, body: 'default' });
    expect((await gw.waitForStatus(uk, 'delivered')).provider).toBe('telnyx');
    expect((await gw.waitForStatus(bySender, 'delivered')).provider).toBe('telnyx');
    expect((await gw.waitForStatus(plain, 'delivered')).provider).toBe('twilio');
  });

  it('retries a 429 and a 500 and records each try', async () => {
    gw = await startSendGateway({ config: config() });
    gw.sim.setFaults('twilio', { script: [{ status: 429 }, { status: 500 }] });
    const id = await sendOk({ to: TO, body: 'persist' });
    const message = await gw.waitForStatus(id, 'delivered');
    expect(message.attempts.map((a) => [a.outcome, a.errorClass, a.httpStatus])).toEqual([
      ['retry', 'rate_limited', 429],
      ['retry', 'transient', 500],
      ['accepted', null, null],
    ]);
    expect(message.attempts[0]!.errorCode).toBe('20429');
    expect(gw.sim.stats('twilio')).toMatchObject({ requests: 3, accepted: 1 });
  });

  it("waits as long as the carrier's Retry-After says", async () => {
    gw = await startSendGateway({ config: config() });
    gw.sim.setFaults('telnyx', { script: [{ status: 429, retryAfterSeconds: 1 }] });
    const id = await sendOk({ to: TO, body: 'patience', provider: 'telnyx' });
    const message = await gw.waitForStatus(id, 'delivered', 8000);
    const [first, second] = message.attempts;
    const gap = Date.parse(second!.startedAt) - Date.parse(first!.startedAt);
    expect(gap).toBeGreaterThanOrEqual(950);
  });

  it('fails a message at once on a permanent recipient error, keeps the code, and does not fail over', async () => {
    gw = await startSendGateway({ config: config() });
    gw.sim.setFaults('twilio', { recipientErrors: { '+14155550111': '21211' } });
    const id = await sendOk({ to: '+14155550111', body: 'nobody home' });
    const message = await gw.waitForStatus(id, 'failed');
    expect(message).toMatchObject({ errorCode: '21211', provider: 'twilio' });
    expect(message.attempts).toEqual([
      expect.objectContaining({ outcome: 'failed', errorClass: 'recipient' }),
    ]);
    expect(gw.sim.stats('twilio').requests).toBe(1);
    expect(gw.sim.stats('telnyx').requests).toBe(0);
  });

  it('records the opt-out when the carrier says the recipient replied STOP, and refuses the next message', async () => {
    gw = await startSendGateway({ config: config() });
    gw.sim.setFaults('twilio', { recipientErrors: { '+14155550122': '21610' } });
    const id = await sendOk({ to: '+14155550122', body: 'promo' });
    expect(await gw.waitForStatus(id, 'failed')).toMatchObject({ errorCode: '21610' });
    const again = await gw.send({ to: '+14155550122', body: 'promo 2' });
    expect(again.status).toBe(422);
    expect((await json(again)).error.code).toBe('recipient_opted_out');
  });

  it('records a Telnyx STOP block (40300) as an opt-out too', async () => {
    gw = await startSendGateway({ config: config() });
    gw.sim.setFaults('telnyx', { recipientErrors: { '+14155550133': '40300' } });
    const id = await sendOk({ to: '+14155550133', body: 'promo', provider: 'telnyx' });
    expect(await gw.waitForStatus(id, 'failed')).toMatchObject({ errorCode: '40300' });
    expect(await gw.store.isOptedOut('+14155550133', TELNYX_FROM)).toBe(true);
  });

  it("refuses a recipient who texted STOP to the sender's number", async () => {
    gw = await startSendGateway({ config: config() });
    const stop = await gw.postTwilio(twilioInbound({ From: '+14155550144', To: TWILIO_FROM, Body: 'STOP' }));
    expect(stop.status).toBe(200);
    const res = await gw.send({ to: '+14155550144', body: 'are you there?' });
    expect(res.status).toBe(422);
    expect((await json(res)).error.code).toBe('recipient_opted_out');
    expect((await gw.store.listMessages({ direction: 'outbound' }, { limit: 10 })).data).toHaveLength(0);
    // Another of our numbers may still write to them.
    await sendOk({ to: '+14155550144', from: '+14155550199', body: 'hello from elsewhere' });
  });

  it('fails over to the next carrier, with its from-number, when retries are exhausted', async () => {
    gw = await startSendGateway({ config: config({}, { maxAttempts: 2 }) });
    gw.sim.setFaults('twilio', { down: true });
    const id = await sendOk({ to: TO, body: 'get through' });
    const message = await gw.waitForStatus(id, 'delivered');
    expect(message).toMatchObject({ provider: 'telnyx', from: TELNYX_FROM });
    expect(message.attempts.map((a) => [a.provider, a.outcome, a.httpStatus])).toEqual([
      ['twilio', 'retry', 503],
      ['twilio', 'failover', 503],
      ['telnyx', 'accepted', null],
    ]);
    expect(gw.sim.messages('telnyx')[0]).toMatchObject({ from: TELNYX_FROM, to: TO });
  });

  it('fails over when the carrier does not answer in time', async () => {
    gw = await startSendGateway({ config: config({}, { maxAttempts: 2, timeoutMs: 300 }) });
    gw.sim.setFaults('twilio', { timeoutRate: 1 });
    const id = await sendOk({ to: TO, body: 'anyone there?' });
    const message = await gw.waitForStatus(id, 'delivered');
    expect(message.attempts.map((a) => [a.provider, a.outcome, a.errorCode])).toEqual([
      ['twilio', 'retry', 'timeout'],
      ['twilio', 'failover', 'timeout'],
      ['telnyx', 'accepted', null],
    ]);
    expect(message).toMatchObject({ provider: 'telnyx', from: TELNYX_FROM });
  });

  it('fails over at once when the carrier rejects our credentials', async () => {
    gw = await startSendGateway({ config: config() });
    gw.sim.setFaults('twilio', { authFailure: true });
    const id = await sendOk({ to: TO, body: 'auth' });
    const message = await gw.waitForStatus(id, 'delivered');
    expect(message.attempts.map((a) => [a.provider, a.outcome, a.errorClass])).toEqual([
      ['twilio', 'failover', 'provider'],
      ['telnyx', 'accepted', null],
    ]);
  });

  it('fails a message when every carrier in the failover order has failed', async () => {
    gw = await startSendGateway({ config: config({}, { maxAttempts: 1 }) });
    gw.sim.setFaults('twilio', { down: true });
    gw.sim.setFaults('telnyx', { down: true });
    const id = await sendOk({ to: TO, body: 'no way' });
    const message = await gw.waitForStatus(id, 'failed', 8000);
    expect(message.attempts.map((a) => [a.provider, a.outcome])).toEqual([
      ['twilio', 'failover'],
      ['telnyx', 'retry'],
      ['telnyx', 'retry'],
      ['telnyx', 'failed'],
    ]);
  });

  it('opens the circuit of a failing carrier, sends elsewhere, and probes it again after the cooldown', async () => {
    gw = await startSendGateway({
      config: config({}, { maxAttempts: 1, circuitBreaker: { failureThreshold: 2, cooldownMs: 400 } }),
    });
    gw.sim.setFaults('twilio', { down: true });
    for (let i = 0; i < 2; i++) await gw.waitForStatus(await sendOk({ to: TO, body: `a${i}` }), 'delivered');
    expect(gw.sim.stats('twilio').requests).toBe(2);
    // Open: the next message goes straight to Telnyx without a call to Twilio.
    const skipped = await gw.waitForStatus(await sendOk({ to: TO, body: 'b' }), 'delivered');
    expect(gw.sim.stats('twilio').requests).toBe(2);
    expect(skipped.attempts.map((a) => [a.provider, a.outcome, a.errorClass])).toEqual([
      ['twilio', 'failover', 'circuit_open'],
      ['telnyx', 'accepted', null],
    ]);
    // Twilio recovers; after the cooldown one probe goes to it, succeeds, and closes the circuit.
    gw.sim.resetFaults('twilio');
    await new Promise((resolve) => setTimeout(resolve, 450));
    const probe = await gw.waitForStatus(await sendOk({ to: TO, body: 'c' }), 'delivered');
    expect(probe.provider).toBe('twilio');
    const after = await gw.waitForStatus(await sendOk({ to: TO, body: 'd' }), 'delivered');
    expect(after.provider).toBe('twilio');
  });

  it('never sends faster than the configured segments per second, so the carrier never has to queue', async () => {
    const mps = 20;
    gw = await startSendGateway({
      config: config({}, { mps, concurrency: 8 }),
      // The simulated carrier applies the same limit and queues anything faster (as Twilio does).
      sim: { callbacks: { enabled: false } },
    });
    gw.sim.setFaults('twilio', { mps });
    // 20 one-segment messages and 10 two-segment ones: 40 segments, twice what the carrier sends at once (one
    // second's worth), so a gateway sending faster would have messages queued.
    const long = 'x'.repeat(200);
    const bodies = [
      ...Array.from({ length: 20 }, (_, i) => `m${i}`),
      ...Array.from({ length: 10 }, () => long),
    ];
    const posted = Date.now();
    const res = await gw.send(
      { messages: bodies.map((body) => ({ to: TO, body })) },
      {},
      '/v1/messages/batch',
    );
    expect(res.status).toBe(202);
    await gw.sim.waitForMessages(30, 10_000);
    const accepted = gw.sim.messages('twilio').map((m) => m.acceptedAt);
    expect(gw.sim.stats('twilio')).toMatchObject({ rateLimited: 0, queued: 0, queueFull: 0 });
    // 40 segments at 20 per second: the last message cannot start before ~(40 - its own 2) / 20 s after the batch
    // was posted. (Measured from the post, not the first arrival, which a cold connection can make late.)
    expect(Math.max(...accepted) - posted).toBeGreaterThanOrEqual(((40 - 2) / mps) * 1000 * 0.9);
  });
});

describe('review cases', () => {
  it('closes the circuit again when its probe is answered 429 (the carrier is up)', async () => {
    gw = await startSendGateway({
      config: config({}, { maxAttempts: 1, circuitBreaker: { failureThreshold: 1, cooldownMs: 200 } }),
    });
    gw.sim.setFaults('twilio', { down: true });
    await gw.waitForStatus(await sendOk({ to: TO, body: 'opens it' }), 'delivered');
    gw.sim.setFaults('twilio', { down: false, script: [{ status: 429 }] });
    await new Promise((resolve) => setTimeout(resolve, 250));
    const probe = await gw.waitForStatus(await sendOk({ to: TO, body: 'probe' }), 'delivered');
    expect(probe.attempts[0]).toMatchObject({ provider: 'twilio', errorClass: 'rate_limited' });
    const after = await gw.waitForStatus(await sendOk({ to: TO, body: 'after' }), 'delivered');
    expect(after.attempts).toEqual([expect.objectContaining({ provider: 'twilio', outcome: 'accepted' })]);
  });

  it('keeps one carrier’s backlog from holding up another carrier’s messages', async () => {
    gw = await startSendGateway({
      config: config({}, { mps: 2, concurrency: 1 }),
      deps: { outboxCapacity: 4 },
      sim: { callbacks: { enabled: false } },
    });
    const backlog = { messages: Array.from({ length: 12 }, (_, i) => ({ to: TO, body: `bulk ${i}` })) };
    expect((await gw.send(backlog, {}, '/v1/messages/batch')).status).toBe(202);
    const urgent = await sendOk({ to: TO, body: 'urgent', provider: 'telnyx' });
    await gw.waitFor(urgent, (m) => m.status === 'sending', 2000);
    // Twilio is still working through its backlog at 2 a second.
    expect(gw.sim.messages('twilio').length).toBeLessThan(12);
  });

  it('answers a WhatsApp conversation on WhatsApp', async () => {
    gw = await startSendGateway({ deps: { onInbound: () => ({ body: 'Hi on WhatsApp' }) } });
    const res = await gw.postTwilio(
      twilioInbound({ From: 'whatsapp:+14155550123', To: 'whatsapp:+14155550100', Body: 'hola' }),
    );
    expect(res.status).toBe(200);
    const [sent] = await gw.sim.waitForMessages(1);
    expect(sent).toMatchObject({ to: 'whatsapp:+14155550123', from: 'whatsapp:+14155550100' });
  });

  it('routes messages queued for a carrier that is no longer configured through one that is', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'switchboard-reroute-')), 'gateway.db');
    gw = await startSendGateway({
      env: { DATABASE_URL: db },
      config: config({ retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 } }),
    });
    gw.sim.setFaults('telnyx', { down: true });
    const id = await sendOk({ to: TO, body: 'stuck on telnyx', provider: 'telnyx' });
    await gw.waitFor(id, (m) => m.attempts.length === 1);
    await gw.close();
    // Telnyx is removed from the configuration; the message still goes, through Twilio with its number.
    gw = await startSendGateway({
      env: { DATABASE_URL: db, TELNYX_API_KEY: '', TELNYX_PUBLIC_KEY: '' },
      config: { providers: { twilio: { from: TWILIO_FROM } } },
    });
    const message = await gw.waitForStatus(id, 'delivered');
    expect(message).toMatchObject({ provider: 'twilio', from: TWILIO_FROM });
    expect(message.attempts.map((a) => [a.provider, a.outcome, a.errorCode])).toEqual([
      ['telnyx', 'retry', expect.any(String)],
      ['telnyx', 'failover', 'provider_not_configured'],
      ['twilio', 'accepted', null],
    ]);
  });
});
