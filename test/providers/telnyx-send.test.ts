import { getEventListeners } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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

  it('sends an MMS as an MMS even without media (a group reply whose other participants all opted out)', async () => {
    const bodies: Record<string, unknown>[] = [];
    // A stand-in for Telnyx that keeps what the SDK sent: the simulator does not report the requested type.
    const server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(raw) as Record<string, unknown>);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ data: { id: `m${bodies.length}`, to: [{ status: 'queued' }] } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const sender = createTelnyxSender({
        apiKey: 'KEY0123',
        apiBaseUrl: `http://127.0.0.1:${port}`,
        messagingProfileId: null,
        timeoutMs: 5000,
        webhookUrl: () => null,
      });
      const request = {
        messageId: 'm',
        from: '+13125550001',
        to: '+14155550123',
        cc: [],
        body: 'hi',
        media: [],
      };
      await sender.send({ ...request, channel: 'mms' }, new AbortController().signal);
      await sender.send({ ...request, channel: 'sms' }, new AbortController().signal);
      expect(bodies[0]).toMatchObject({ to: '+14155550123', text: 'hi', type: 'MMS' });
      expect(bodies[1]).not.toHaveProperty('type');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
