import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json } from '../helpers/gateway.js';
import { startSendGateway, TELNYX_FROM, TWILIO_FROM, type SendGateway } from '../helpers/send-gateway.js';

// What the dispatcher does with Twilio's sender-side and rate errors, and with opt-outs that arrive in failure
// receipts, end to end: API -> dispatcher -> official SDKs -> simulator -> signed receipts -> webhooks.

let gw: SendGateway;
beforeAll(async () => {
  gw = await startSendGateway({
    config: {
      defaultProvider: 'twilio',
      failover: ['twilio', 'telnyx'],
      providers: {
        twilio: { from: TWILIO_FROM, mps: null, concurrency: 4, maxAttempts: 3 },
        telnyx: { from: TELNYX_FROM, mps: null, concurrency: 4, maxAttempts: 3 },
      },
      retry: { baseDelayMs: 10, maxDelayMs: 40 },
    },
  });
});
afterAll(async () => gw?.close());

async function sendOk(body: Record<string, unknown>): Promise<string> {
  const res = await gw.send(body);
  const payload = await json(res);
  expect(res.status, JSON.stringify(payload)).toBe(202);
  return payload.id as string;
}

describe("Twilio errors that are not the recipient's", () => {
  it('fails a 21612 (To not reachable from this From) over to the next carrier, which delivers it', async () => {
    gw.sim.setFaults('twilio', { script: [{ status: 400, code: '21612' }] });
    const id = await sendOk({ to: '+14155550131', body: 'sender-side refusal' });
    const message = await gw.waitForStatus(id, 'delivered');
    expect(message).toMatchObject({ provider: 'telnyx', from: TELNYX_FROM });
    expect(message.attempts).toEqual([
      expect.objectContaining({
        provider: 'twilio',
        outcome: 'failover',
        errorClass: 'sender',
        errorCode: '21612',
      }),
      expect.objectContaining({ provider: 'telnyx', outcome: 'accepted' }),
    ]);
  });

  it('retries a 21611 (the From queue holds over 10 hours) on Twilio after a wait', async () => {
    gw.sim.setFaults('twilio', { script: [{ status: 400, code: '21611' }] });
    const id = await sendOk({ to: '+14155550132', body: 'slow down' });
    const message = await gw.waitForStatus(id, 'delivered');
    expect(message.provider).toBe('twilio');
    expect(message.attempts).toEqual([
      expect.objectContaining({ outcome: 'retry', errorClass: 'rate_limited', errorCode: '21611' }),
      expect.objectContaining({ provider: 'twilio', outcome: 'accepted' }),
    ]);
  });
});

describe('opt-outs reported in failure receipts', () => {
  it.each([
    ['Twilio', 'twilio', '+14155550133', '21610', TWILIO_FROM],
    ['Telnyx', 'telnyx', '+14155550134', '40300', TELNYX_FROM],
  ] as const)(
    'records a %s receipt opt-out: the next message to that recipient from that sender is refused',
    async (_name, provider, to, code, from) => {
      // Accepted at send time; the carrier's receipt then says the recipient had opted out.
      gw.sim.setFaults(provider, { deliveryFailures: { [to]: code } });
      const id = await sendOk({ to, body: 'promo', provider });
      expect(await gw.waitForStatus(id, 'failed')).toMatchObject({ errorCode: code, provider });
      expect(await gw.store.isOptedOut(to, from)).toBe(true);
      const again = await gw.send({ to, body: 'promo 2', provider });
      expect(again.status).toBe(422);
      expect((await json(again)).error.code).toBe('recipient_opted_out');
    },
  );
});

describe('a Twilio 21611 (one From number over 10 hours of queue) slows that message down, not the lane', () => {
  const WAIT_MS = 1500; // retry.maxDelayMs: the backoff's maximum, which a 21611 waits before each retry
  let slow: SendGateway;
  beforeAll(async () => {
    slow = await startSendGateway({
      sim: { callbacks: { enabled: false } },
      config: {
        defaultProvider: 'twilio',
        failover: ['twilio', 'telnyx'],
        providers: {
          twilio: { from: TWILIO_FROM, mps: null, concurrency: 4, maxAttempts: 3 },
          telnyx: { from: TELNYX_FROM, mps: null, concurrency: 4, maxAttempts: 3 },
        },
        retry: { baseDelayMs: 10, maxDelayMs: WAIT_MS },
      },
    });
  });
  afterAll(async () => slow?.close());

  it('retries it after the longest backoff, fails over after maxAttempts such tries, and lets others go meanwhile', async () => {
    const FULL = '+14155550141';
    // Twilio answers 21611 (HTTP 400, no Retry-After) for every try of this message.
    slow.sim.setFaults('twilio', { recipientErrors: { [FULL]: '21611' } });
    const res = await slow.send({ to: FULL, body: 'slow down' });
    expect(res.status).toBe(202);
    const id = (await json(res)).id as string;
    const first = await slow.waitFor(id, (m) => m.attempts.length === 1);
    const refusedAt = Date.parse(first.attempts[0]!.startedAt) + first.attempts[0]!.durationMs;

    // Another message on the same carrier goes at once: the lane is not paused.
    const other = await slow.send({ to: '+14155550142', body: 'meanwhile', from: '+14155550199' });
    const otherId = (await json(other)).id as string;
    const sent = await slow.waitFor(otherId, (m) => m.attempts.length === 1);
    expect(sent.attempts[0]).toMatchObject({ provider: 'twilio', outcome: 'accepted' });
    expect(Date.parse(sent.attempts[0]!.startedAt)).toBeLessThan(refusedAt + WAIT_MS);

    const message = await slow.waitFor(id, (m) => m.provider === 'telnyx' && m.attempts.length === 4, 15_000);
    expect(message.attempts.map((a) => [a.provider, a.outcome, a.errorCode])).toEqual([
      ['twilio', 'retry', '21611'],
      ['twilio', 'retry', '21611'],
      ['twilio', 'failover', '21611'],
      ['telnyx', 'accepted', null],
    ]);
    // Each try on Twilio waited the backoff's maximum after the refusal before it (never a quick retry).
    const twilio = message.attempts.slice(0, 3);
    for (let i = 1; i < twilio.length; i++) {
      const previousEnd = Date.parse(twilio[i - 1]!.startedAt) + twilio[i - 1]!.durationMs;
      expect(Date.parse(twilio[i]!.startedAt) - previousEnd).toBeGreaterThanOrEqual(WAIT_MS - 5);
    }
  });
});
