import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FailureClass } from '../../src/core/sending.js';
import { createTwilioSender } from '../../src/providers/twilio/send.js';
import { ProviderSimulator } from '../../src/simulator/simulator.js';

let sim: ProviderSimulator;
beforeAll(async () => {
  sim = await ProviderSimulator.start({ callbacks: { enabled: false } });
});
afterAll(async () => sim.close());

describe("the Twilio sender's error classes (the SDK against the simulator's error answers)", () => {
  // Each checked against Twilio's error dictionary (https://www.twilio.com/docs/api/errors/<code>); see send.ts.
  it.each<[string, FailureClass]>([
    // The From number's queue holds more than 10 hours of sending: slow down and retry.
    ['21611', 'rate_limited'],
    // Sender or account side, never the recipient's fault: another carrier, from its own number, may succeed.
    ['21612', 'sender'],
    ['21408', 'sender'],
    ['21212', 'sender'],
    ['21659', 'sender'],
    ['21606', 'sender'],
    // For contrast: the recipient's side, and a STOP.
    ['21211', 'recipient'],
    ['21610', 'opted_out'],
  ])('%s is %s', async (code, klass) => {
    const sender = createTwilioSender({
      accountSid: sim.twilioCredentials.accountSid,
      authToken: sim.twilioCredentials.authToken,
      apiBaseUrl: sim.twilioApiBaseUrl,
      messagingServiceSid: null,
      timeoutMs: 5000,
      statusCallbackUrl: () => null,
    });
    sim.setFaults('twilio', { script: [{ status: 400, code }] });
    const error = await sender
      .send(
        {
          messageId: 'm1',
          channel: 'sms',
          from: '+14155550100',
          to: '+14155550123',
          body: 'hi',
          media: [],
          cc: [],
        },
        new AbortController().signal,
      )
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(error).not.toBeNull();
    const failure = sender.classify(error);
    expect(failure).toMatchObject({ class: klass, code, httpStatus: 400, retryAfterMs: null });
    // 21611 is one From number's queue, not the account's limit: the message slows down, the lane does not.
    expect(failure.senderLimited === true).toBe(code === '21611');
  });
});
