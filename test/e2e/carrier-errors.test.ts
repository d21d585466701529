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
