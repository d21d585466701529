import { afterEach, describe, expect, it } from 'vitest';
import { json } from '../helpers/gateway.js';
import { startSendGateway, TWILIO_FROM, type SendGateway } from '../helpers/send-gateway.js';

// Waits are measured on a monotonic clock: an operator (or NTP) stepping the wall clock back an hour must not
// hold a circuit open, or a message waiting on it, for that hour. Stored times stay wall-clock times.

let gw: SendGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const HOUR = 3_600_000;
const COOLDOWN_MS = 2_000;

describe('a wall clock stepped back an hour', () => {
  it('holds up neither the circuit breaker nor the retry waiting on it', async () => {
    const wall = { offset: 0 };
    gw = await startSendGateway({
      config: {
        defaultProvider: 'twilio',
        // Nowhere to fail over to: the message waits for Twilio's circuit to let a probe through.
        failover: ['twilio'],
        providers: {
          twilio: {
            from: TWILIO_FROM,
            mps: null,
            concurrency: 1,
            maxAttempts: 10,
            circuitBreaker: { failureThreshold: 2, cooldownMs: COOLDOWN_MS },
          },
        },
        retry: { baseDelayMs: 10, maxDelayMs: 20 },
      },
      sim: { callbacks: { enabled: false } },
      deps: { now: () => Date.now() + wall.offset },
    });
    const { dispatcher } = gw.app.gateway;
    gw.sim.setFaults('twilio', { down: true });
    const res = await gw.send({ to: '+14155550123', body: 'waits for the circuit' });
    expect(res.status).toBe(202);
    const { id } = await json(res);

    // Two 503s in a row open the circuit; the message, retrying, now waits for the probe.
    const opened = Date.now();
    while (dispatcher.stats().get('twilio')?.breaker !== 'open') {
      expect(Date.now() - opened, 'the circuit never opened').toBeLessThan(10_000);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    wall.offset = -HOUR;
    gw.sim.resetFaults('twilio');
    const stepped = Date.now();

    // After the cooldown, not an hour later, the probe goes: the message itself, accepted.
    const message = await gw.waitFor(id, (m) => m.providerMessageId !== null, 10_000);
    expect(Date.now() - stepped).toBeLessThan(COOLDOWN_MS + 5_000);
    expect(gw.sim.stats('twilio').requests).toBe(3);
    expect(message.attempts.map((a) => [a.outcome, a.httpStatus])).toEqual([
      ['retry', 503],
      ['retry', 503],
      ['accepted', null],
    ]);
    // Stored times are the wall clock's, stepped back; durations are measured, never negative.
    const [first, , probe] = message.attempts;
    expect(Date.parse(probe!.startedAt)).toBeLessThan(Date.parse(first!.startedAt) - HOUR / 2);
    for (const attempt of message.attempts) expect(attempt.durationMs).toBeGreaterThanOrEqual(0);
    expect(dispatcher.stats().get('twilio')?.breaker).toBe('closed');
  });
});
