import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StatusEvent } from '../../src/core/provider.js';
import { parseTelnyx } from '../../src/providers/telnyx/parse.js';
import { parseTwilio } from '../../src/providers/twilio/parse.js';
import { ProviderSimulator } from '../../src/simulator/simulator.js';
import {
  formParams,
  jsonBody,
  rawWebhook,
  rejection,
  startReceiver,
  telnyxClient,
  twilioClient,
  type Receiver,
} from './helpers.js';

// Real time, so status callbacks really wait for a message's turn; while a burst is sent the clock is held, so
// where each message lands in its sender's queue does not depend on how fast this machine is. Every timing
// assertion is a lower bound (a callback never comes before its message left the queue): load can only delay.

let frozenAt: number | null = null;
const now = () => frozenAt ?? Date.now();
let sim: ProviderSimulator;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  sim = await ProviderSimulator.start({
    now,
    callbacks: { sentDelayMs: 5, deliveredDelayMs: 5, retryDelayMs: 5 },
  });
});

afterAll(async () => {
  await sim.close();
  await receiver.close();
});

beforeEach(async () => {
  frozenAt = null;
  await sim.callbacksIdle();
  sim.resetFaults();
  sim.resetRecords();
  receiver.requests.length = 0;
});

const TO = '+14155550123';
const FROM = '+14155550100';

function twilioEvents(): (StatusEvent & { raw: Record<string, string>; at: number })[] {
  return receiver.requests.map((r) => ({
    ...(parseTwilio(rawWebhook(r, 'form'))[0] as StatusEvent),
    raw: formParams(r),
    at: r.at,
  }));
}

function telnyxEvents(): (StatusEvent & { type: string; payload: Record<string, unknown>; at: number })[] {
  return receiver.requests.map((r) => {
    const body = jsonBody(r);
    return {
      ...(parseTelnyx(rawWebhook(r, 'json'))[0] as StatusEvent),
      type: body.data.event_type,
      payload: body.data.payload,
      at: r.at,
    };
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a sender pacing at its rate', () => {
  it('is never queued: every message leaves at once and is delivered', async () => {
    sim.setFaults('twilio', { mps: 10 });
    const statusCallback = `${receiver.base}/paced`;
    for (let i = 0; i < 12; i++) {
      await twilioClient(sim).messages.create({ to: TO, from: FROM, body: `paced ${i}`, statusCallback });
      // One message per 100 ms is 10 a second; a slow machine only spaces them more.
      await sleep(100);
    }
    await sim.callbacksIdle();
    expect(sim.stats('twilio')).toMatchObject({ accepted: 12, queued: 0, queueFull: 0, expired: 0 });
    expect(sim.messages('twilio').every((m) => m.departsAt === m.acceptedAt)).toBe(true);
    expect(twilioEvents().filter((e) => e.providerStatus === 'delivered')).toHaveLength(12);
  });
});

describe('a sender going too fast (Twilio)', () => {
  it('sees its messages accepted and sent later, at the rate, then refused with 21611 once the queue is full', async () => {
    sim.setFaults('twilio', { mps: 5, maxQueueSeconds: 1 });
    const statusCallback = `${receiver.base}/burst`;
    const start = Date.now();
    frozenAt = start;
    const outcomes: string[] = [];
    for (let i = 0; i < 12; i++) {
      outcomes.push(
        await twilioClient(sim)
          .messages.create({ to: TO, from: FROM, body: `burst ${i}`, statusCallback })
          .then(
            (m) => m.status,
            (err: { code?: number }) => String(err.code),
          ),
      );
    }
    frozenAt = null;
    // 5 at once (one second's worth), 5 queued 200 ms apart (the queue holds 1 s), then the queue is full.
    expect(outcomes).toEqual([...Array<string>(10).fill('queued'), '21611', '21611']);
    expect(sim.stats('twilio')).toMatchObject({ accepted: 10, errors: 2, queued: 5, queueFull: 2 });
    const messages = sim.messages('twilio');
    expect(messages.map((m) => (m.departsAt ?? 0) - m.acceptedAt)).toEqual([
      0, 0, 0, 0, 0, 200, 400, 600, 800, 1000,
    ]);

    await sim.callbacksIdle();
    const events = twilioEvents();
    for (const m of messages) {
      const sent = events.find((e) => e.providerMessageId === m.id && e.providerStatus === 'sent');
      // Not before its turn in the queue.
      expect(sent!.at).toBeGreaterThanOrEqual(m.departsAt!);
    }
    expect(events.filter((e) => e.providerStatus === 'delivered')).toHaveLength(10);
  });

  it('through a Messaging Service: accepted, then failed with 30001 Queue overflow (no sent first)', async () => {
    sim.setFaults('twilio', { mps: 1, maxQueueSeconds: 1 });
    const messagingServiceSid = `MG${'cd'.repeat(16)}`;
    const statusCallback = `${receiver.base}/service`;
    frozenAt = Date.now();
    const sent: { sid: string; status: string }[] = [];
    for (let i = 0; i < 3; i++) {
      sent.push(
        await twilioClient(sim).messages.create({
          to: TO,
          messagingServiceSid,
          body: `s${i}`,
          statusCallback,
        }),
      );
    }
    frozenAt = null;
    expect(sent.map((m) => m.status)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(sim.stats('twilio')).toMatchObject({ accepted: 3, queued: 1, queueFull: 1 });
    await sim.callbacksIdle();
    const overflow = twilioEvents().filter((e) => e.providerMessageId === sent[2]!.sid);
    expect(overflow.map((e) => [e.providerStatus, e.errorCode, e.errorMessage])).toEqual([
      ['failed', '30001', 'Queue overflow'],
    ]);
    expect(sim.messages('twilio')[2]).toMatchObject({ departsAt: null, status: 'failed' });
  });

  it('fails a message that would wait past its ValidityPeriod with 30036, when the period ends', async () => {
    // One segment every 2 s.
    sim.setFaults('twilio', { mps: 0.5 });
    const statusCallback = `${receiver.base}/validity`;
    const client = twilioClient(sim);
    const start = Date.now();
    frozenAt = start;
    await client.messages.create({ to: TO, from: FROM, body: 'first', statusCallback });
    const expiring = await client.messages.create({
      to: TO,
      from: FROM,
      body: 'too late',
      statusCallback,
      validityPeriod: 1,
    });
    // The expired message took no sending time: the next one leaves after the first.
    await client.messages.create({ to: TO, from: FROM, body: 'third', statusCallback });
    const invalid = await rejection(
      client.messages.create({ to: TO, from: FROM, body: 'x', validityPeriod: 36_001 }),
    );
    frozenAt = null;
    expect(invalid).toMatchObject({ status: 400, code: 21624 });
    expect(expiring.status).toBe('queued');
    expect(sim.messages('twilio').map((m) => (m.departsAt === null ? null : m.departsAt - start))).toEqual([
      0,
      null,
      2_000,
    ]);
    expect(sim.stats('twilio')).toMatchObject({ accepted: 3, expired: 1, queued: 1 });

    await sim.callbacksIdle();
    const events = twilioEvents().filter((e) => e.providerMessageId === expiring.sid);
    expect(events.map((e) => [e.providerStatus, e.errorCode, e.errorMessage])).toEqual([
      ['failed', '30036', 'Validity Period Expired'],
    ]);
    expect(events[0]!.at).toBeGreaterThanOrEqual(start + 1_000);
  });
});

describe('a sender going too fast (Telnyx)', () => {
  it('gets its queued messages sent later, refused with 40318 past the queue, expired with 40014 past valid_until', async () => {
    sim.setFaults('telnyx', { mps: 1, maxQueueSeconds: 2, validitySeconds: 1 });
    const webhook_url = `${receiver.base}/telnyx`;
    const client = telnyxClient(sim);
    const start = Date.now();
    frozenAt = start;
    await client.messages.send({ to: TO, from: FROM, text: 'first', webhook_url });
    const second = await client.messages.send({ to: TO, from: FROM, text: 'second', webhook_url });
    // Would wait 2 s, past its validity of 1 s: accepted, and it will expire.
    const third = await client.messages.send({ to: TO, from: FROM, text: 'third', webhook_url });
    sim.setFaults('telnyx', { maxQueueSeconds: 0.5 });
    const full = await rejection(client.messages.send({ to: TO, from: FROM, text: 'fourth', webhook_url }));
    frozenAt = null;
    expect(full).toMatchObject({ status: 429, error: { errors: [{ code: '40318' }] } });
    expect(third.data?.to?.[0]?.status).toBe('queued');
    expect(Date.parse(third.data!.valid_until!) - Date.parse(third.data!.received_at!)).toBe(1_000);
    expect(sim.stats('telnyx')).toMatchObject({ accepted: 3, queued: 1, expired: 1, queueFull: 1 });

    await sim.callbacksIdle();
    const events = telnyxEvents();
    const of = (id: string | undefined) => events.filter((e) => e.payload.id === id);
    const secondSent = of(second.data?.id).find((e) => e.type === 'message.sent');
    expect(secondSent!.at).toBeGreaterThanOrEqual(start + 1_000);
    expect(of(second.data?.id).map((e) => e.providerStatus)).toEqual(['sent', 'delivered']);
    const expired = of(third.data?.id);
    expect(expired.map((e) => [e.type, e.providerStatus, e.errorCode])).toEqual([
      ['message.finalized', 'sending_failed', '40014'],
    ]);
    expect(expired[0]!.at).toBeGreaterThanOrEqual(start + 1_000);
  });
});

describe('Twilio receipt dates', () => {
  /** RawDlrDoneDate read as a wall-clock time (YYMMDDhhmm), as milliseconds since the epoch if it were UTC. */
  const wallClock = (raw: string) => {
    const [yy, mo, dd, hh, mi] = raw
      .match(/^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/)!
      .slice(1)
      .map(Number) as number[];
    return Date.UTC(2000 + yy!, mo! - 1, dd, hh, mi);
  };

  it('writes RawDlrDoneDate in the carrier’s local time, to the minute, with no zone (UTC-5 unless set)', async () => {
    const statusCallback = `${receiver.base}/dlr`;
    await twilioClient(sim).messages.create({ to: TO, from: FROM, body: 'local', statusCallback });
    await sim.callbacksIdle();
    sim.setFaults('twilio', { receiptUtcOffsetMinutes: 330 });
    await twilioClient(sim).messages.create({ to: TO, from: FROM, body: 'india', statusCallback });
    await sim.callbacksIdle();
    const receipts = twilioEvents().filter((e) => e.providerStatus === 'delivered');
    expect(receipts).toHaveLength(2);
    const [eastern, india] = receipts.map((e) => ({ raw: e.raw.RawDlrDoneDate!, at: e.at }));
    expect(eastern!.raw).toMatch(/^\d{10}$/);
    for (const [receipt, offsetMinutes] of [
      [eastern!, -300],
      [india!, 330],
    ] as const) {
      // The wall clock minus its offset is the real (UTC) time, truncated to the minute.
      const utc = wallClock(receipt.raw) - offsetMinutes * 60_000;
      expect(utc).toBeLessThanOrEqual(receipt.at);
      expect(receipt.at - utc).toBeLessThan(60_000 + 5_000);
    }
  });
});
