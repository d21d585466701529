import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTelnyxSender } from '../../src/providers/telnyx/send.js';
import { ProviderSimulator } from '../../src/simulator/simulator.js';

let sim: ProviderSimulator;
beforeAll(async () => {
  sim = await ProviderSimulator.start({ callbacks: { enabled: false } });
});
afterAll(async () => sim.close());

describe('the Telnyx sender', () => {
  it('leaves no listener on the long-lived shutdown signal it is given (the SDK never removes its own)', async () => {
    const sender = createTelnyxSender({
      apiKey: sim.telnyxApiKey,
      apiBaseUrl: sim.telnyxApiBaseUrl,
      messagingProfileId: null,
      timeoutMs: 5000,
      webhookUrl: () => null,
    });
    const shutdown = new AbortController();
    for (let i = 0; i < 20; i++) {
      const result = await sender.send(
        {
          messageId: `m${i}`,
          channel: 'sms',
          from: '+13125550001',
          to: '+14155550123',
          cc: [],
          body: `n${i}`,
          media: [],
        },
        shutdown.signal,
      );
      expect(result.providerMessageId).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });
});
