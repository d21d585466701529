import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiKey, type Scope } from '../../src/core/api-keys.js';
import { newSecret, TestApp } from '../helpers/app-server.js';
import { API_KEY, json } from '../helpers/gateway.js';
import { startSendGateway, type SendGateway } from '../helpers/send-gateway.js';
import { until } from '../helpers/wait.js';

// URLs that may carry a token are shown in full only to those entitled to them (issue 11, item 8): endpoint URLs
// to admin keys; a message's statusCallback to admin keys and to the key that sent the message. Everyone else
// sees the origin.

let gw: SendGateway;
let app: TestApp;
const keys: Record<'sender' | 'reader' | 'otherSender' | 'admin', string> = {
  sender: '',
  reader: '',
  otherSender: '',
  admin: '',
};
let callback: string;
let endpointUrl: string;
let messageId: string;

async function createKey(scopes: Scope[]): Promise<string> {
  const { key, record } = newApiKey(`test ${scopes.join('+')}`, scopes, null, Date.now());
  await gw.store.createApiKey(record);
  return key;
}

const get = (path: string, key: string) =>
  fetch(gw.base + path, { headers: { authorization: `Bearer ${key}` } });

beforeAll(async () => {
  app = await TestApp.start();
  endpointUrl = `${app.url}/hooks/crm-7f3a?token=endpoint-secret`;
  callback = `${app.url}/callbacks/order-1?token=callback-secret`;
  gw = await startSendGateway({
    env: { APP_WEBHOOK_SECRET: newSecret(), CALLBACK_ALLOWED_NETWORKS: '127.0.0.1/32' },
    config: {
      defaultProvider: 'twilio',
      providers: { twilio: { from: '+14155550100', mps: null } },
      endpoints: [{ id: 'crm', url: endpointUrl }],
    },
  });
  keys.sender = await createKey(['send', 'read']);
  keys.otherSender = await createKey(['send', 'read']);
  keys.reader = await createKey(['read']);
  keys.admin = await createKey(['admin']);
  const res = await gw.send(
    { to: '+14155550123', body: 'Your order shipped', statusCallback: callback },
    { authorization: `Bearer ${keys.sender}` },
  );
  expect(res.status).toBe(202);
  const sent = await json(res);
  expect(sent.statusCallback).toBe(callback);
  messageId = sent.id;
  await until(async () => (await gw.store.listEvents({ messageId }, { limit: 10 })).data.length > 0);
});

afterAll(async () => {
  await gw?.close();
  await app?.close();
});

const origin = () => new URL(app.url).origin;

describe('GET /v1/endpoints', () => {
  it.each([
    ['a read key', 'reader', false],
    ['a send+read key', 'sender', false],
    ['an admin key', 'admin', true],
    ['a SWITCHBOARD_API_KEYS key (admin)', 'env', true],
  ] as const)('shows %s (%s) the URL in full: %s', async (_label, who, full) => {
    const res = await get('/v1/endpoints', who === 'env' ? API_KEY : keys[who]);
    expect(res.status).toBe(200);
    const body = await json(res);
    const crm = body.data.find((e: { id: string }) => e.id === 'crm');
    expect(crm.url).toBe(full ? endpointUrl : origin());
    if (!full) expect(JSON.stringify(body)).not.toContain('endpoint-secret');
  });
});

describe("a message's statusCallback", () => {
  // Who sees it in full: the key that sent the message, admin keys (also from the environment).
  const cases = [
    ['the key that sent it', 'sender', true],
    ['an admin key', 'admin', true],
    ['a SWITCHBOARD_API_KEYS key (admin)', 'env', true],
    ['another key that sends and reads', 'otherSender', false],
    ['a read key', 'reader', false],
  ] as const;
  const keyOf = (who: (typeof cases)[number][1]) => (who === 'env' ? API_KEY : keys[who]);
  const expected = (full: boolean) => (full ? callback : origin());

  it.each(cases)('GET /v1/messages/:id seen by %s (%s): in full %s', async (_label, who, full) => {
    const res = await get(`/v1/messages/${messageId}`, keyOf(who));
    expect(res.status).toBe(200);
    expect((await json(res)).statusCallback).toBe(expected(full));
  });

  it.each(cases)('GET /v1/messages seen by %s (%s): in full %s', async (_label, who, full) => {
    const res = await get('/v1/messages?direction=outbound', keyOf(who));
    const listed = (await json(res)).data.find((m: { id: string }) => m.id === messageId);
    expect(listed.statusCallback).toBe(expected(full));
    // The API never shows which key sent a message.
    expect(listed).not.toHaveProperty('createdBy');
  });

  it.each(cases)("the events API's payloads seen by %s (%s): in full %s", async (_label, who, full) => {
    const events = await json(await get(`/v1/events?messageId=${messageId}`, keyOf(who)));
    expect(events.data.length).toBeGreaterThan(0);
    for (const { id } of events.data) {
      const event = await json(await get(`/v1/events/${id}`, keyOf(who)));
      expect(event.payload.data.id).toBe(messageId);
      expect(event.payload.data.statusCallback).toBe(expected(full));
      expect(event).not.toHaveProperty('messageCreatedBy');
    }
  });

  it.each(cases)('the dashboard seen by %s (%s): in full %s', async (_label, who, full) => {
    const one = await json(await get(`/dashboard/api/messages/${messageId}`, keyOf(who)));
    expect(one.statusCallback).toBe(expected(full));
    expect(one).not.toHaveProperty('createdBy');
    const conversation = await json(
      await get('/dashboard/api/conversation?number=%2B14155550123', keyOf(who)),
    );
    const shown = conversation.messages.find((m: { id: string }) => m.id === messageId);
    expect(shown.statusCallback).toBe(expected(full));
    expect(shown).not.toHaveProperty('createdBy');
    // Nothing on the dashboard carries the token to a key that may not see it.
    const snapshot = JSON.stringify(await json(await get('/dashboard/api/snapshot', keyOf(who))));
    expect(snapshot).not.toContain('endpoint-secret');
    if (!full) expect(snapshot).not.toContain('callback-secret');
  });
});
