import { afterEach, describe, expect, it } from 'vitest';
import { startSendGateway, TELNYX_FROM, TWILIO_FROM, type SendGateway } from '../helpers/send-gateway.js';

// A lane wider than 10 keeps more than 10 sends waiting on the rate limiter or in flight at once, each listening to
// the dispatcher's shutdown signals: no MaxListenersExceededWarning (it reads as a leak), and no leak either.

let gw: SendGateway | undefined;
const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);
afterEach(async () => {
  process.off('warning', onWarning);
  await gw?.close();
  gw = undefined;
});

describe('a lane with concurrency 20 under load', () => {
  it('sends everything and prints no MaxListenersExceededWarning', async () => {
    process.on('warning', onWarning);
    gw = await startSendGateway({
      config: {
        defaultProvider: 'telnyx',
        failover: ['telnyx', 'twilio'],
        providers: {
          // Paced: sends queue up on the rate limiter's wait.
          telnyx: { from: TELNYX_FROM, mps: 100, concurrency: 20 },
          twilio: { from: TWILIO_FROM, mps: null, concurrency: 20 },
        },
      },
      sim: { callbacks: { enabled: false } },
    });
    // Slow answers: 20 calls in flight at once.
    gw.sim.setFaults('telnyx', { latencyMs: 300 });
    const messages = Array.from({ length: 80 }, (_, i) => ({ to: '+14155550123', body: `wide ${i}` }));
    const res = await gw.send({ messages }, {}, '/v1/messages/batch');
    expect(res.status).toBe(202);
    await gw.sim.waitForMessages(messages.length, 15_000);
    await gw.app.gateway.dispatcher.idle();
    expect(gw.sim.stats('telnyx').requests).toBe(messages.length);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});
