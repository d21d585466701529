import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryInfo, EventDetail } from '../../src/core/events.js';
import { newSecret, TestApp } from '../helpers/app-server.js';
import { twilioInbound } from '../helpers/carriers.js';
import { json } from '../helpers/gateway.js';
import { fakeResolver } from '../helpers/resolver.js';
import { startSendGateway, type SendGateway } from '../helpers/send-gateway.js';
import { eventually } from '../helpers/wait.js';

// Messages' statusCallback URLs are chosen by API clients (a key with only the `send` scope): the gateway must not
// post to its own machine or networks for them. Checked through the real send API, with the real deliverer.

const TO = '+14155550123';
const PUBLIC = '93.184.216.34';
/** A name is refused in the same words whatever the reason (internal DNS names must not be told apart). */
const NAME_REFUSED = /must resolve, to public addresses only \(/;

let gw: SendGateway | undefined;
const apps: TestApp[] = [];
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function startApp(): Promise<TestApp> {
  const app = await TestApp.start();
  apps.push(app);
  return app;
}

/** The status-callback deliveries of a message's events, as the events API shows them. */
async function callbackDeliveries(g: SendGateway, messageId: string): Promise<DeliveryInfo[]> {
  const { data } = (await json(await g.api(`/v1/events?messageId=${messageId}`))) as {
    data: { id: string }[];
  };
  const events = await Promise.all(
    data.map(async (e) => (await json(await g.api(`/v1/events/${e.id}`))) as EventDetail),
  );
  return events.flatMap((e) => e.deliveries.filter((d) => d.endpointId === 'status-callback'));
}

describe('statusCallback addresses refused by the send API', () => {
  let shared: SendGateway;
  const resolver = fakeResolver({
    'internal.example': ['10.1.2.3'],
    'metadata.example': ['169.254.169.254'],
    'mixed.example': [PUBLIC, '192.168.0.10'],
    'six.example': ['2606:4700::1111', 'fd00::5'],
  });
  beforeAll(async () => {
    shared = await startSendGateway({
      env: { APP_WEBHOOK_SECRET: newSecret() },
      deps: { resolveHost: resolver },
    });
  });
  afterAll(async () => shared.close());

  it.each([
    ['IPv4 loopback', 'http://127.0.0.1:8080/cb', /127\.0\.0\.1 is a loopback address/],
    ['another loopback address', 'http://127.1.2.3/cb', /a loopback address/],
    ['loopback written in hex (0x7f000001)', 'http://0x7f000001/cb', /127\.0\.0\.1 is a loopback address/],
    ['loopback written in octal', 'http://017700000001/cb', /a loopback address/],
    ['IPv6 loopback', 'http://[::1]:3000/cb', /\[::1\] is a loopback address/],
    ['a name for loopback (localhost)', 'http://localhost:3000/cb', NAME_REFUSED],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data/', /a link-local address/],
    ['a name for cloud metadata', 'http://metadata.example/', NAME_REFUSED],
    ['IPv6 link-local', 'http://[fe80::1]/cb', /a link-local address/],
    ['a private network (10/8)', 'https://10.0.0.5/cb', /a private network address/],
    ['a private network (172.16/12)', 'https://172.20.1.1/cb', /a private network address/],
    ['a private network (192.168/16)', 'https://192.168.1.1/cb', /a private network address/],
    ['a name on a private network', 'https://internal.example/cb', NAME_REFUSED],
    ['a name with a private address among public ones', 'https://mixed.example/cb', NAME_REFUSED],
    ['IPv6 unique-local', 'http://[fd12:3456::1]/cb', /unique-local/],
    ['an IPv6 name with a unique-local address', 'https://six.example/cb', NAME_REFUSED],
    ['the unspecified IPv4 address', 'http://0.0.0.0:3000/cb', /an unspecified address/],
    ['the unspecified IPv6 address', 'http://[::]:3000/cb', /an unspecified address/],
    ['carrier-grade NAT', 'http://100.64.0.1/cb', /a carrier-grade NAT address/],
    ['multicast', 'http://224.0.0.1/cb', /a multicast address/],
    ['IPv6 multicast', 'http://[ff02::1]/cb', /a multicast address/],
    ['broadcast', 'http://255.255.255.255/cb', /a reserved address/],
    ['reserved (240/4)', 'http://240.0.0.1/cb', /a reserved address/],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/cb', /a loopback address/],
    ['IPv4-mapped IPv6 private', 'http://[::ffff:10.0.0.1]/cb', /a private network address/],
    ['NAT64 of loopback', 'http://[64:ff9b::7f00:1]/cb', /a loopback address/],
    ['6to4 of a private address', 'http://[2002:c0a8:101::1]/cb', /a private network address/],
    ['a name that does not resolve', 'https://nowhere.example/cb', NAME_REFUSED],
  ])('refuses %s: 422 invalid_callback_url, nothing stored', async (_name, url, why) => {
    const res = await shared.send({ to: TO, body: 'x', statusCallback: `${url}?token=SECRET-TOKEN` });
    const payload = await json(res);
    expect(res.status, JSON.stringify(payload)).toBe(422);
    expect(payload.error.code).toBe('invalid_callback_url');
    expect(payload.error.message).toMatch(why);
    // Says why without echoing the URL's path or query (which may carry a token), nor a resolved address.
    expect(payload.error.message).not.toMatch(
      /SECRET-TOKEN|\/cb|meta-data|10\.1\.2\.3|192\.168\.0\.10|fd00::5/,
    );
    expect((await shared.store.listMessages({}, { limit: 10 })).data).toHaveLength(0);
  });
});

describe('a refused name', () => {
  it('is refused in the same words whether it does not exist or resolves to an address of any refused kind', async () => {
    gw = await startSendGateway({
      env: { APP_WEBHOOK_SECRET: newSecret() },
      deps: {
        resolveHost: fakeResolver({
          'a.example': ['10.1.2.3'],
          'b.example': ['127.0.0.1'],
          'c.example': ['169.254.169.254'],
          'd.example': ['fd00::5'],
          'e.example': [PUBLIC, '192.168.0.10'],
          'f.example': [],
        }),
      },
    });
    const messages = new Set<string>();
    for (const host of ['a', 'b', 'c', 'd', 'e', 'f', 'nowhere']) {
      const res = await gw.send({ to: TO, body: 'x', statusCallback: `https://${host}.example/cb` });
      expect(res.status).toBe(422);
      const { error } = await json(res);
      expect(error.code).toBe('invalid_callback_url');
      messages.add((error.message as string).replace(`${host}.example`, 'HOST'));
    }
    expect([...messages]).toEqual([
      "statusCallback's host HOST must resolve, to public addresses only (the gateway's operator can allow " +
        'networks with CALLBACK_ALLOWED_NETWORKS).',
    ]);
  });
});

describe('the send API’s check', () => {
  it('resolves only for messages with a statusCallback, each host once per request; batches refuse item by item', async () => {
    const resolver = fakeResolver({ 'hooks.example': [PUBLIC], 'internal.example': ['10.9.9.9'] });
    gw = await startSendGateway({
      // No carrier answers, so no status changes: the only lookups are the send API's.
      env: { APP_WEBHOOK_SECRET: newSecret(), TWILIO_API_BASE_URL: 'http://127.0.0.1:9' },
      deps: { resolveHost: resolver },
    });
    expect((await gw.send({ to: TO, body: 'no callback' })).status).toBe(202);
    expect(resolver.calls).toEqual([]);
    const batch = await gw.send(
      {
        messages: [
          { to: TO, body: 'a', statusCallback: 'https://hooks.example/a' },
          { to: TO, body: 'b', statusCallback: 'http://127.0.0.1/b' },
          { to: TO, body: 'c', statusCallback: 'https://internal.example/c' },
          { to: TO, body: 'd', statusCallback: 'https://hooks.example/d' },
          { to: TO, body: 'e' },
        ],
      },
      {},
      '/v1/messages/batch',
    );
    const result = await json(batch);
    expect(batch.status).toBe(207);
    expect(result.data.map((d: { status: number }) => d.status)).toEqual([202, 422, 422, 202, 202]);
    expect(result.data[1].error.code).toBe('invalid_callback_url');
    expect(resolver.calls.sort()).toEqual(['hooks.example', 'internal.example']);
  });

  it('answers 503 when the host cannot be resolved right now (the client may retry)', async () => {
    gw = await startSendGateway({
      env: { APP_WEBHOOK_SECRET: newSecret() },
      deps: {
        resolveHost: async () => {
          throw Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' });
        },
      },
    });
    const res = await gw.send({ to: TO, body: 'x', statusCallback: 'https://hooks.example/cb' });
    expect(res.status).toBe(503);
    expect((await json(res)).error.code).toBe('service_unavailable');
    expect((await gw.store.listMessages({}, { limit: 10 })).data).toHaveLength(0);
  });
});

describe('allowed networks and the operator’s own endpoints', () => {
  it('lets CALLBACK_ALLOWED_NETWORKS through, by address and by name', async () => {
    const callbackApp = await startApp();
    const secret = newSecret();
    gw = await startSendGateway({
      env: { APP_WEBHOOK_SECRET: secret, CALLBACK_ALLOWED_NETWORKS: '10.0.0.0/8, 127.0.0.1/32' },
    });
    const port = new URL(callbackApp.url).port;
    const byAddress = await json(
      await gw.send({ to: TO, body: 'a', statusCallback: `${callbackApp.url}/by-address` }),
    );
    const byName = await json(
      await gw.send({ to: TO, body: 'b', statusCallback: `http://localhost:${port}/by-name` }),
    );
    await callbackApp.waitFor(3, 10_000, '/by-address');
    await callbackApp.waitFor(3, 10_000, '/by-name');
    expect(callbackApp.verified(secret, '/by-address').map((e) => e.data.id)).toEqual([
      byAddress.id,
      byAddress.id,
      byAddress.id,
    ]);
    expect(callbackApp.verified(secret, '/by-name')[0]!.data.id).toBe(byName.id);
    // Only what is listed.
    const other = await gw.send({ to: TO, body: 'c', statusCallback: 'http://127.0.0.2/cb' });
    expect(other.status).toBe(422);
  });

  it('delivers to configured endpoints on loopback without any allowance', async () => {
    const app = await startApp();
    const secret = newSecret();
    gw = await startSendGateway({
      env: { APP_WEBHOOK_URL: `${app.url}/events`, APP_WEBHOOK_SECRET: secret },
    });
    const res = await gw.postTwilio(twilioInbound({ Body: 'to the operator’s app' }));
    expect(res.status).toBe(200);
    await app.waitFor(1);
    expect(app.verified(secret)[0]!.data.body).toBe('to the operator’s app');
    // The same address as a client's statusCallback is refused.
    const refused = await gw.send({ to: TO, body: 'x', statusCallback: `${app.url}/events` });
    expect(refused.status).toBe(422);
  });
});

describe('at connect time', () => {
  it('refuses a name that resolved to a public address when sent and to loopback when delivered (DNS rebinding)', async () => {
    const app = await startApp();
    const port = new URL(app.url).port;
    // The first lookup is the send API's check; every later one is a connection's.
    const resolver = fakeResolver({ 'rebind.example': [[PUBLIC], ['127.0.0.1']] });
    gw = await startSendGateway({
      env: { APP_WEBHOOK_SECRET: newSecret(), APP_WEBHOOK_RETRY_SCHEDULE: '100ms' },
      deps: { resolveHost: resolver },
    });
    const res = await gw.send({ to: TO, body: 'x', statusCallback: `http://rebind.example:${port}/cb` });
    expect(res.status).toBe(202);
    const { id } = await json(res);
    await gw.waitForStatus(id, 'delivered');
    const deliveries = await eventually(async () => {
      const found = await callbackDeliveries(gw!, id);
      return found.length === 3 && found.every((d) => d.state === 'dead') ? found : null;
    }, 10_000);
    // Ended at once, one attempt each, with the same words whatever the target: nothing about its ports.
    for (const d of deliveries) {
      expect(d.attemptLog).toEqual([
        expect.objectContaining({
          outcome: 'dead',
          statusCode: null,
          error: 'refused: the address is not allowed',
        }),
      ]);
    }
    expect(resolver.calls.filter((c) => c === 'rebind.example').length).toBeGreaterThanOrEqual(2);
    expect(app.requests).toHaveLength(0);
  });

  it('refuses an address no longer allowed when the callback is delivered (the operator narrowed the list)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-ssrf-'));
    const app = await startApp();
    app.answer(() => ({ status: 503 }));
    const env = {
      DATABASE_URL: join(dir, 'switchboard.db'),
      APP_WEBHOOK_SECRET: newSecret(),
      APP_WEBHOOK_RETRY_SCHEDULE: '500ms',
    };
    gw = await startSendGateway({ env: { ...env, CALLBACK_ALLOWED_NETWORKS: '127.0.0.1/32' } });
    const { id } = await json(await gw.send({ to: TO, body: 'x', statusCallback: `${app.url}/cb` }));
    await app.waitFor(1);
    await gw.close();
    const before = app.requests.length;
    gw = await startSendGateway({ env });
    const deliveries = await eventually(async () => {
      const found = await callbackDeliveries(gw!, id);
      return found.length > 0 && found.every((d) => d.state === 'dead') ? found : null;
    }, 10_000);
    const errors = deliveries.flatMap((d) => d.attemptLog.map((a) => a.error));
    expect(errors).toContain('refused: the address is not allowed');
    // Every request the app got was the first gateway's; none after the restart.
    expect(errors.filter((e) => e === 'HTTP 503')).toHaveLength(before);
    expect(app.requests).toHaveLength(before);
    await gw.close();
    gw = undefined;
    rmSync(dir, { recursive: true, force: true });
  });
});
