import { afterEach, describe, expect, it } from 'vitest';
import { ProviderSimulator } from '../../src/simulator/simulator.js';
import { newSecret, TestApp } from '../helpers/app-server.js';
import { TWILIO_SID, TWILIO_TOKEN } from '../helpers/carriers.js';
import { json } from '../helpers/gateway.js';
import { startProcess, waitReady, type GatewayProcess } from '../helpers/process.js';
import { carrierEnv, configFile, freePort, TELNYX_FROM, TWILIO_FROM } from '../helpers/send-gateway.js';
import { eventually } from '../helpers/wait.js';

// A full run of the real process at LOG_LEVEL=debug: sends through both carriers with their signed receipts,
// inbound messages, events to an app that fails once and then replies, API reads with numbers in the query, a
// forged webhook. Its whole log must hold no phone number, message body, secret or signature, and one line per
// request with its outcome and latency.

let gateway: GatewayProcess | undefined;
let sim: ProviderSimulator | undefined;
let app: TestApp | undefined;
afterEach(async () => {
  gateway?.child.kill('SIGKILL');
  await sim?.close();
  await app?.close();
});

const API_KEY = 'safe-logs-test-key-0123456789';

describe('logs of a full run', () => {
  it('hold no phone number, body, secret or signature, and one line per request', async () => {
    sim = await ProviderSimulator.start({
      twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN },
      callbacks: { sentDelayMs: 5, deliveredDelayMs: 5 },
    });
    app = await TestApp.start();
    const secret = newSecret();
    const signatures: string[] = [];
    app.answer((req, i) => {
      signatures.push(String(req.headers['webhook-signature']));
      if (i === 0) return { status: 500 };
      const event = JSON.parse(req.body);
      return event.type === 'message.received'
        ? { body: { reply: { body: 'secret reply text' } } }
        : { status: 204 };
    });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    gateway = startProcess({
      ...carrierEnv(sim),
      PORT: String(port),
      DATABASE_URL: ':memory:',
      PUBLIC_BASE_URL: base,
      LOG_LEVEL: 'debug',
      SWITCHBOARD_API_KEYS: API_KEY,
      APP_WEBHOOK_URL: `${app.url}/hook?token=app-url-token`,
      APP_WEBHOOK_SECRET: secret,
      APP_WEBHOOK_RETRY_SCHEDULE: '100ms,200ms',
      SWITCHBOARD_CONFIG: configFile({
        providers: { twilio: { from: TWILIO_FROM, mps: null }, telnyx: { from: TELNYX_FROM, mps: null } },
      }),
    });
    await waitReady(base);
    const api = (path: string, body?: unknown) =>
      fetch(base + path, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });

    const numbers = ['+14155550987', '+13125550876', '+14155550765'];
    const sent = await json(await api('/v1/messages', { to: numbers[0], body: 'private outbound body' }));
    await json(
      await api('/v1/messages', { to: numbers[1], body: 'private telnyx body', provider: 'telnyx' }),
    );
    const injected = await sim.injectInbound({
      provider: 'twilio',
      from: numbers[2]!,
      to: TWILIO_FROM,
      body: 'private inbound body',
      webhookUrl: `${base}/webhooks`,
    });
    expect(injected.status).toBe(200);
    // The app's reply to the inbound message goes out as a message.
    await eventually(async () => (sim!.messages().length === 3 ? true : null), 10_000, 'the reply');
    await sim.callbacksIdle();
    await api(`/v1/messages?to=${encodeURIComponent(numbers[0]!)}`);
    // The same number as clients really write it in a query string: plus as space, percent-encoded spaces, mixed,
    // encoded twice, without a plus; and as libphonenumber also reads it: slashes, Unicode dashes, fullwidth.
    const fullwidth = '＋１４１５５５５０４５６';
    const queried = [
      '%2B1+415+555+0456',
      '%2B1%20415%20555%200456',
      '%2B1+415%20555-0456',
      '%252B14155550456',
      '%252B1%2520415%2520555%25200456',
      '14155550456',
      '%2B1%2F415%2F555%2F0456',
      encodeURIComponent('+1\u2010415\u2010555\u20100456'),
      encodeURIComponent('+1\u2212415\u2212555\u22120456'),
      encodeURIComponent(fullwidth),
    ];
    for (const spelling of queried) await api(`/v1/messages?to=${spelling}&limit=5`);
    await api('/dashboard/api/conversation?number=%2B1+415+555+0456');
    await api(`/v1/messages/${sent.id}`);
    await api('/v1/events?type=message.received');
    await fetch(`${base}/webhooks`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': 'forged-signature',
      },
      body: `From=${encodeURIComponent(numbers[2]!)}&Body=forged&AccountSid=${TWILIO_SID}&MessageSid=SMx`,
    });

    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    const log = gateway.output();
    const secrets = [
      ...numbers.map((n) => n.slice(1)),
      ...queried,
      '4155550456',
      fullwidth.slice(2),
      'private outbound body',
      'private telnyx body',
      'private inbound body',
      'secret reply text',
      API_KEY,
      TWILIO_TOKEN,
      sim.telnyxApiKey,
      secret,
      secret.slice('whsec_'.length),
      'app-url-token',
      'forged-signature',
      ...signatures.flatMap((s) => s.split(' ').map((v) => v.slice(3))),
    ];
    for (const value of secrets) expect(log, value).not.toContain(value);

    const lines = log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = lines.filter((l) => l.msg === 'request');
    // One line per request with its latency; webhooks say which carrier and what came of them.
    expect(requests.every((l) => typeof l.ms === 'number' && typeof l.status === 'number')).toBe(true);
    expect(
      requests.filter((l) => l.url === '/webhooks' && l.provider === 'twilio' && l.outcome === 'accepted')
        .length,
    ).toBeGreaterThan(0);
    expect(requests).toContainEqual(
      expect.objectContaining({
        url: '/webhooks',
        status: 403,
        outcome: 'rejected',
        code: 'signature_invalid',
      }),
    );
    // Ids in URLs stay whole.
    expect(requests.some((l) => l.url === `/v1/messages/${sent.id}`)).toBe(true);
    // Numbers in URLs are masked, not dropped, however they were written.
    expect(requests.some((l) => String(l.url).includes('%2B1415****987'))).toBe(true);
    const queries = requests.filter((l) =>
      /^\/(v1\/messages|dashboard\/api\/conversation)\?/.test(String(l.url)),
    );
    expect(queries.length).toBeGreaterThanOrEqual(queried.length + 2);
    for (const line of queries) expect(String(line.url).replace(/\D/g, '')).not.toContain('5550456');
    expect(requests.filter((l) => String(l.url).includes('to=%2B1415****456&limit=5'))).toHaveLength(9);
  }, 60_000);
});
