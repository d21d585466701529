import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/wait.js';
import { newSecret, TestApp, type AppAnswer, type AppRequest } from '../helpers/app-server.js';
import { twilioInbound, unique } from '../helpers/carriers.js';
import { API_KEY, json } from '../helpers/gateway.js';
import { captureLogs } from '../helpers/log-capture.js';
import { startSendGateway, type SendGateway } from '../helpers/send-gateway.js';

// Compute mode over HTTP: the inbound message is posted to the app while the carrier waits; the app's reply goes
// back inline (TwiML) for Twilio and as an outbound message for Telnyx. Faults fall back to asynchronous delivery.

let gw: SendGateway | undefined;
let app: TestApp | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  await app?.close();
  app = undefined;
});

const CUSTOMER = '+14155550123';
const OUR_TWILIO = '+14155550100';

async function start(
  answer: (req: AppRequest, i: number) => AppAnswer | Promise<AppAnswer>,
  env: Record<string, string> = {},
) {
  app = await TestApp.start();
  app.answer(answer);
  const logs = captureLogs('info');
  const secret = newSecret();
  gw = await startSendGateway({
    env: {
      PROCESSING_MODE: 'compute',
      COMPUTE_TIMEOUT_MS: '1500',
      APP_WEBHOOK_URL: `${app.url}/hook`,
      APP_WEBHOOK_SECRET: secret,
      APP_WEBHOOK_RETRY_SCHEDULE: '100ms,200ms',
      ...env,
    },
    deps: { logger: logs.logger },
  });
  return { app, gw, logs, secret };
}

async function twilioMessage(g: SendGateway, body = 'what time is it?') {
  const started = performance.now();
  const res = await g.postTwilio(twilioInbound({ Body: body, MessageSid: unique('SM') }));
  return { status: res.status, twiml: await res.text(), ms: performance.now() - started };
}

async function outbound(g: SendGateway) {
  return (await g.store.listMessages({ direction: 'outbound' }, { limit: 10 })).data;
}

async function inboundMessages(g: SendGateway) {
  return (await g.store.listMessages({ direction: 'inbound' }, { limit: 10 })).data;
}

describe('compute mode over HTTP', () => {
  it('answers Twilio inline with the app’s reply as TwiML, signed request, no outbound message', async () => {
    const { gw, app, secret } = await start(() => ({
      body: { reply: { body: 'It is 5 <pm> & sunny', mediaUrls: ['https://example.com/sun.png'] } },
    }));
    const { status, twiml } = await twilioMessage(gw);
    expect(status).toBe(200);
    expect(twiml).toContain('<Body>It is 5 &lt;pm&gt; &amp; sunny</Body>');
    expect(twiml).toContain('<Media>https://example.com/sun.png</Media>');
    expect(app.verified(secret)[0]).toMatchObject({
      type: 'message.received',
      data: { body: 'what time is it?' },
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(await outbound(gw)).toHaveLength(0);
    // The delivery is recorded as delivered: it is not posted again.
    expect(app.requests).toHaveLength(1);
  });

  it('treats an empty 2xx as no reply', async () => {
    const { gw } = await start(() => ({ status: 204 }));
    const { twiml } = await twilioMessage(gw);
    expect(twiml).toContain('<Response/>');
    expect(await outbound(gw)).toHaveLength(0);
  });

  it('sends a Telnyx message’s reply as an outbound message from the number it was sent to', async () => {
    const { gw } = await start(() => ({ body: { reply: { body: 'Telnyx reply' } } }));
    const injected = await gw.sim.injectInbound({
      provider: 'telnyx',
      from: '+13125550099',
      to: '+13125550001',
      body: 'hi',
      webhookUrl: `${gw.base}/webhooks`,
    });
    expect(injected.status).toBe(200);
    const [sent] = await gw.sim.waitForMessages(1);
    expect(sent).toMatchObject({
      provider: 'telnyx',
      from: '+13125550001',
      to: '+13125550099',
      body: 'Telnyx reply',
    });
  });

  it('past the deadline answers the carrier at once; the late reply is sent as a message', async () => {
    const { gw } = await start(
      async () => {
        await new Promise((r) => setTimeout(r, 800));
        return { body: { reply: { body: 'late but here' } } };
      },
      { COMPUTE_TIMEOUT_MS: '200' },
    );
    const { twiml, ms } = await twilioMessage(gw);
    expect(twiml).toContain('<Response/>');
    expect(ms).toBeLessThan(750);
    const [sent] = await gw.sim.waitForMessages(1);
    expect(sent).toMatchObject({ from: OUR_TWILIO, to: CUSTOMER, body: 'late but here' });
  });

  it('falls back to asynchronous delivery when the app fails; the retry’s reply is sent as a message', async () => {
    const { gw, app } = await start((_req, i) =>
      i === 0 ? { status: 500 } : { body: { reply: { body: 'second time lucky' } } },
    );
    const { twiml } = await twilioMessage(gw);
    expect(twiml).toContain('<Response/>');
    const [sent] = await gw.sim.waitForMessages(1);
    expect(sent).toMatchObject({ to: CUSTOMER, body: 'second time lucky' });
    expect(app.requests).toHaveLength(2);
    // Both posts carried the same event: an app can tell a retry by its webhook-id.
    expect(app.requests[0]!.headers['webhook-id']).toBe(app.requests[1]!.headers['webhook-id']);
  });

  it('falls back when the app is down, and delivers once it is up', async () => {
    const { gw, app: first } = await start(() => ({ status: 200 }), {
      APP_WEBHOOK_RETRY_SCHEDULE: '300ms,1s,2s',
    });
    const port = new URL(first.url).port;
    await first.close();
    const { status, twiml, ms } = await twilioMessage(gw);
    expect(status).toBe(200);
    expect(twiml).toContain('<Response/>');
    expect(ms).toBeLessThan(1500);
    // The app comes back on its address before the retry.
    app = await TestApp.startOn(Number(port));
    app.answer(() => ({ body: { reply: { body: 'back online' } } }));
    const [sent] = await gw.sim.waitForMessages(1);
    expect(sent).toMatchObject({ body: 'back online' });
    expect(await inboundMessages(gw)).toHaveLength(1);
  });

  const refusals: [string, unknown, string, RegExp][] = [
    ['too long', { reply: { body: 'x'.repeat(1601) } }, 'application/json', /1601 characters/],
    [
      'invalid media URL',
      { reply: { body: 'pic', mediaUrls: ['ftp://x/y.png'] } },
      'application/json',
      /URL/,
    ],
    ['garbage', '{"reply": nope', 'application/json', /not valid JSON/],
  ];
  for (const [name, body, contentType, reason] of refusals) {
    it(`refuses a reply that is ${name} with a logged reason, and keeps the message`, async () => {
      const { gw, logs, app } = await start(() => ({
        status: 200,
        headers: { 'content-type': contentType },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }));
      const { status, twiml } = await twilioMessage(gw, 'please reply');
      expect(status).toBe(200);
      expect(twiml).toContain('<Response/>');
      const [stored] = await inboundMessages(gw);
      expect(stored).toMatchObject({ body: 'please reply', status: 'received' });
      const line = logs.lines.find((l) => l.msg === 'app reply refused');
      expect(line).toMatchObject({ messageId: stored!.id });
      expect(String(line!.reason)).toMatch(reason);
      // Answered 2xx: delivered, not retried; nothing was sent.
      await new Promise((r) => setTimeout(r, 400));
      expect(app.requests).toHaveLength(1);
      expect(await outbound(gw)).toHaveLength(0);
    });
  }

  it('never answers a STOP, inline or as a message', async () => {
    const { gw, app, logs } = await start(() => ({ body: { reply: { body: 'Sorry to see you go!' } } }));
    const { twiml } = await twilioMessage(gw, 'STOP');
    expect(twiml).toContain('<Response/>');
    // The app still hears of it; its reply is refused because the sender has just opted out.
    await app.waitFor(1);
    await until(() => logs.lines.some((l) => l.msg === 'app reply not sent'));
    expect(logs.lines.find((l) => l.msg === 'app reply not sent')).toMatchObject({ outcome: 'opted_out' });
    expect(await outbound(gw)).toHaveLength(0);
  });

  it('refuses a reply with a character TwiML cannot carry, without failing the webhook', async () => {
    const { gw, logs } = await start(() => ({ body: { reply: { body: 'bell \u0007 rings' } } }));
    const { status, twiml } = await twilioMessage(gw);
    expect(status).toBe(200);
    expect(twiml).toContain('<Response/>');
    expect(logs.lines.find((l) => l.msg === 'app reply refused')).toMatchObject({
      reason: expect.stringMatching(/control character/),
    });
  });

  it('does not send an inline reply a second time when the event is redelivered', async () => {
    const { gw, app } = await start(() => ({ body: { reply: { body: 'only once' } } }));
    const { twiml } = await twilioMessage(gw);
    expect(twiml).toContain('only once');
    const id = app.payloads()[0]!.id;
    const res = await fetch(`${gw.base}/v1/events/${id}/redeliver`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(res.status).toBe(202);
    await app.waitFor(2);
    await new Promise((r) => setTimeout(r, 300));
    // The app answered the redelivery with its reply again: already given inline, so not sent as a message.
    expect(await outbound(gw)).toHaveLength(0);
    expect(gw.sim.messages()).toHaveLength(0);
  });

  it('a plain "OK" answer is no reply and logs nothing', async () => {
    const { gw, logs } = await start(() => ({
      status: 200,
      headers: { 'content-type': 'text/plain' },
      body: 'OK',
    }));
    const { twiml } = await twilioMessage(gw);
    expect(twiml).toContain('<Response/>');
    expect(logs.lines.some((l) => l.msg === 'app reply refused')).toBe(false);
  });
});

describe('an in-process handler and an app endpoint together', () => {
  it('sends the handler’s reply only; the endpoint still gets the event', async () => {
    app = await TestApp.start();
    app.answer(() => ({ body: { reply: { body: 'from the app' } } }));
    gw = await startSendGateway({
      env: { APP_WEBHOOK_URL: `${app.url}/hook`, APP_WEBHOOK_SECRET: newSecret() },
      deps: { onInbound: () => ({ body: 'from the handler' }) },
    });
    await twilioMessage(gw);
    await app.waitFor(1);
    const [sent] = await gw.sim.waitForMessages(1);
    expect(sent).toMatchObject({ body: 'from the handler' });
    await new Promise((r) => setTimeout(r, 300));
    expect(gw.sim.messages()).toHaveLength(1);
  });
});

describe('fast mode over HTTP', () => {
  it('acknowledges at once and sends the app’s reply as a message', async () => {
    const { gw } = await start(() => ({ body: { reply: { body: 'fast reply' } } }), {
      PROCESSING_MODE: 'fast',
    });
    const { twiml } = await twilioMessage(gw);
    expect(twiml).toContain('<Response/>');
    const [sent] = await gw.sim.waitForMessages(1);
    expect(sent).toMatchObject({ from: OUR_TWILIO, to: CUSTOMER, body: 'fast reply' });
    // Sent once, though the reply endpoint's delivery and the message are separate records.
    const messages = await outbound(gw);
    expect(messages).toHaveLength(1);
    const events = await json(await gw.api('/v1/events?type=message.received'));
    expect(events.data).toHaveLength(1);
  });
});
