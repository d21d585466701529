import { afterEach, describe, expect, it } from 'vitest';
import type { InboundMessage } from '../../src/core/inbound.js';
import { telnyxKeys, telnyxReceived, twilioInbound } from '../helpers/carriers.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startSendGateway, type SendGateway } from '../helpers/send-gateway.js';

const keys = telnyxKeys();
let gw: TestGateway;
let sgw: SendGateway;
afterEach(async () => gw?.close());

/** A promise with its resolve exposed, to hold a handler until the test lets it go. */
function gate<T = void>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

async function outbound(g: TestGateway) {
  return (await g.store.listMessages({ direction: 'outbound' }, { limit: 10 })).data;
}

describe('fast mode', () => {
  it('acknowledges before the handler finishes, then queues its reply as an outbound message', async () => {
    const release = gate();
    const seen: InboundMessage[] = [];
    gw = sgw = await startSendGateway({
      deps: {
        onInbound: async (m) => {
          seen.push(m);
          await release.promise;
          return { body: 'Thanks!' };
        },
      },
    });
    const res = await gw.postTwilio(twilioInbound({ Body: 'hi' }));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<Response/>'); // no inline reply in fast mode
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      body: 'hi',
      from: '+14155550123',
      to: '+14155550100',
      keyword: null,
      provider: 'twilio',
    });
    expect(await outbound(gw)).toHaveLength(0);
    release.open();
    // The reply goes out through the send pipeline, from the number the sender wrote to.
    const [sent] = await sgw.sim.waitForMessages(1);
    expect(sent).toMatchObject({
      provider: 'twilio',
      from: '+14155550100',
      to: '+14155550123',
      body: 'Thanks!',
    });
    expect(await outbound(gw)).toEqual([
      expect.objectContaining({
        provider: 'twilio',
        from: '+14155550100',
        to: '+14155550123',
        body: 'Thanks!',
        segments: 1,
        encoding: 'GSM-7',
      }),
    ]);
  });

  it('does not process a duplicate delivery again', async () => {
    let calls = 0;
    gw = await startGateway({}, { onInbound: () => void calls++ });
    const params = twilioInbound();
    await gw.postTwilio(params);
    await gw.postTwilio(params);
    await gw.app.close();
    expect(calls).toBe(1);
  });
});

describe('compute mode', () => {
  it('answers Twilio inline with TwiML built from the reply', async () => {
    gw = await startGateway(
      { PROCESSING_MODE: 'compute' },
      {
        onInbound: (m) => ({
          body: `You said: ${m.body} & more`,
          mediaUrls: ['https://example.com/cat.png'],
        }),
      },
    );
    const res = await gw.postTwilio(twilioInbound({ Body: '<hi>' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(await res.text()).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Message><Body>You said: &lt;hi&gt; &amp; more</Body>' +
        '<Media>https://example.com/cat.png</Media></Message></Response>',
    );
    expect(await outbound(gw)).toHaveLength(0);
  });

  it('acknowledges empty past the deadline and queues the late reply', async () => {
    const release = gate();
    gw = await startGateway(
      { PROCESSING_MODE: 'compute', COMPUTE_TIMEOUT_MS: '100' },
      {
        onInbound: async () => {
          await release.promise;
          return { body: 'late answer' };
        },
      },
    );
    const started = Date.now();
    const res = await gw.postTwilio(twilioInbound());
    expect(await res.text()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
    expect(Date.now() - started).toBeLessThan(5_000);
    release.open();
    await gw.app.close();
    expect((await outbound(gw)).map((m) => m.body)).toEqual(['late answer']);
  });

  it('acknowledges Telnyx at once and sends the reply through the send pipeline', async () => {
    const release = gate();
    gw = sgw = await startSendGateway({
      env: { PROCESSING_MODE: 'compute' },
      deps: {
        onInbound: async () => {
          await release.promise;
          return { body: 'Telnyx reply' };
        },
      },
    });
    const inbound = await sgw.sim.injectInbound({
      provider: 'telnyx',
      from: '+13125550999',
      to: '+17735550002',
      body: 'question',
      webhookUrl: `${gw.base}/webhooks`,
    });
    expect(inbound.status).toBe(200); // answered while the handler is still held
    expect(sgw.sim.messages('telnyx')).toHaveLength(0);
    release.open();
    const [sent] = await sgw.sim.waitForMessages(1);
    expect(sent).toMatchObject({
      provider: 'telnyx',
      from: '+17735550002',
      to: '+13125550999',
      body: 'Telnyx reply',
    });
    const [reply] = await outbound(gw);
    expect(await sgw.waitForStatus(reply!.id, 'delivered')).toMatchObject({ providerMessageId: sent!.id });
  });

  it('treats a throwing handler as no reply and keeps the message', async () => {
    gw = await startGateway(
      { PROCESSING_MODE: 'compute' },
      {
        onInbound: () => {
          throw new Error('app bug');
        },
      },
    );
    const res = await gw.postTwilio(twilioInbound());
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<Response/>');
    expect((await gw.store.listMessages({ direction: 'inbound' }, { limit: 10 })).data).toHaveLength(1);
  });

  it('refuses a reply that is too long or has an invalid media URL, keeping the message', async () => {
    const replies = [{ body: 'x'.repeat(1601) }, { body: 'ok', mediaUrls: ['javascript:alert(1)'] }];
    gw = await startGateway({ PROCESSING_MODE: 'compute' }, { onInbound: () => replies.shift() });
    for (let i = 0; i < 2; i++)
      expect(await (await gw.postTwilio(twilioInbound())).text()).toContain('<Response/>');
    expect((await gw.store.listMessages({}, { limit: 10 })).data).toHaveLength(2);
  });
});

describe('compliance keywords', () => {
  it('records STOP and START per sender and our number, and tells the handler the keyword', async () => {
    const keywords: (string | null)[] = [];
    gw = await startGateway({}, { onInbound: (m) => void keywords.push(m.keyword) });
    await gw.postTwilio(twilioInbound({ Body: 'Stop' }));
    expect(await gw.store.isOptedOut('+14155550123', '+14155550100')).toBe(true);
    expect(await gw.store.isOptedOut('+14155550123', '+14155550999')).toBe(false);
    await gw.postTwilio(twilioInbound({ Body: 'START' }));
    expect(await gw.store.isOptedOut('+14155550123', '+14155550100')).toBe(false);
    await gw.postTwilio(twilioInbound({ Body: 'help' }));
    await gw.app.close();
    expect(keywords).toEqual(['stop', 'start', 'help']);
  });

  it('records a Telnyx STOP as well', async () => {
    gw = await startGateway({ TELNYX_PUBLIC_KEY: keys.publicKey });
    await gw.postTelnyx(keys, telnyxReceived({ text: 'UNSUBSCRIBE' }));
    expect(await gw.store.isOptedOut('+13125550001', '+17735550002')).toBe(true);
  });
});
