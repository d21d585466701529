import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryInfo, EventDetail } from '../../src/core/events.js';
import { newSecret, TestApp, type AppRequest } from '../helpers/app-server.js';
import { twilioInbound, unique } from '../helpers/carriers.js';
import { API_KEY, json } from '../helpers/gateway.js';
import { startSendGateway, type SendGateway } from '../helpers/send-gateway.js';
import { eventually } from '../helpers/wait.js';

// A waiting event holds up its own conversation and nothing else, at any backlog: retries waiting in memory or in
// the database never keep a new conversation's events from being loaded and sent. The deliverer's memory is made
// tiny (`deliveryCapacity`) so that "a backlog beyond memory" is a handful of events.

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

/** Generous: a prompt delivery takes milliseconds; a held one would take the retry schedule's hour. */
const PROMPTLY_MS = 10_000;

const senderOf = (r: AppRequest) => (JSON.parse(r.body) as { data: { from: string } }).data.from;

async function inbound(g: SendGateway, from: string, body: string): Promise<void> {
  const res = await g.postTwilio(twilioInbound({ From: from, Body: body, MessageSid: unique('SM') }));
  expect(res.status).toBe(200);
}

async function withApp(env: Record<string, string>, capacity = 2) {
  const app = await startApp();
  const secret = newSecret();
  gw = await startSendGateway({
    env: { APP_WEBHOOK_URL: `${app.url}/events`, APP_WEBHOOK_SECRET: secret, ...env },
    deps: { deliveryCapacity: capacity },
  });
  return { app, gw };
}

describe('a backlog of events waiting for retries', () => {
  it('in one conversation, larger than memory: a new conversation is delivered at once', async () => {
    const { app, gw } = await withApp({ APP_WEBHOOK_RETRY_SCHEDULE: '1h' });
    const stuck = '+14155550111';
    app.answer((req) => (senderOf(req) === stuck ? { status: 500 } : { status: 200 }));
    for (let i = 0; i < 12; i += 1) await inbound(gw, stuck, `stuck ${i}`);
    await app.waitFor(1);
    // Its first event now waits an hour for its retry; eleven more wait behind it.
    await inbound(gw, '+14155550222', 'new conversation');
    const requests = await app.waitFor(2, PROMPTLY_MS);
    expect(requests.map(senderOf)).toEqual([stuck, '+14155550222']);
    // Order kept: nothing behind the waiting event was sent.
    await new Promise((r) => setTimeout(r, 300));
    expect(app.requests.filter((r) => senderOf(r) === stuck)).toHaveLength(1);
  });

  it('in many conversations, more than memory: a new one goes first, and every retry still comes when due', async () => {
    const { app, gw } = await withApp({ APP_WEBHOOK_RETRY_SCHEDULE: '6s' });
    const failedOnce = new Set<string>();
    app.answer((req) => {
      const from = senderOf(req);
      if (from.startsWith('+1415555030') && !failedOnce.has(from)) {
        failedOnce.add(from);
        return { status: 503 };
      }
      return { status: 200 };
    });
    const waiting = Array.from({ length: 6 }, (_, i) => `+1415555030${i}`);
    for (const from of waiting) await inbound(gw, from, 'fails first');
    // All six tried at once (a waiting head does not count against the memory of 2)...
    await app.waitFor(6, PROMPTLY_MS);
    await inbound(gw, '+14155550499', 'new conversation');
    const requests = await app.waitFor(13, 30_000);
    const order = requests.map(senderOf);
    // ... the new conversation did not wait for their retries...
    expect(order.indexOf('+14155550499')).toBe(6);
    // ... and each was retried (two waited in memory, four were read again from the database when due).
    expect(new Set(order.slice(7))).toEqual(new Set(waiting));
  });
});

describe('a client’s dead statusCallback', () => {
  it('holds no other message’s callbacks, however many messages it has', async () => {
    const callbackApp = await startApp();
    gw = await startSendGateway({
      env: {
        APP_WEBHOOK_SECRET: newSecret(),
        APP_WEBHOOK_RETRY_SCHEDULE: '1h',
        CALLBACK_ALLOWED_NETWORKS: '127.0.0.1/32',
      },
      deps: { deliveryCapacity: 2 },
    });
    // Port 1: nothing listens there; every attempt is refused and waits an hour for its retry.
    const dead = [];
    for (let i = 0; i < 5; i += 1) {
      const sent = await json(
        await gw.send({ to: `+1415555060${i}`, body: 'x', statusCallback: 'http://127.0.0.1:1/dead' }),
      );
      dead.push(sent.id as string);
    }
    for (const id of dead) {
      await eventually(async () => {
        const [first] = await callbackDeliveries(gw!, id);
        return first && first.attempts > 0 ? first : null;
      }, PROMPTLY_MS);
    }
    const healthy = await json(
      await gw.send({ to: '+14155550700', body: 'y', statusCallback: `${callbackApp.url}/ok` }),
    );
    await gw.waitForStatus(healthy.id, 'delivered');
    await callbackApp.waitFor(3, PROMPTLY_MS, '/ok');
  });
});

describe('a client’s silent statusCallback hosts', () => {
  it('take at most half the callback slots, however many names they go by: other clients’ callbacks go on', async () => {
    const silent = await startApp();
    silent.answer(() => ({ delayMs: 60_000 }));
    const healthy = await startApp();
    const otherClient = 'other-client-key-0123456789';
    gw = await startSendGateway({
      env: {
        APP_WEBHOOK_SECRET: newSecret(),
        APP_WEBHOOK_TIMEOUT_MS: '30000',
        CALLBACK_ALLOWED_NETWORKS: '127.0.0.1/32',
        SWITCHBOARD_API_KEYS: `${API_KEY},${otherClient}`,
      },
      deps: { shutdownMs: 3000 },
    });
    // One client's callbacks, on two names for the same silent server.
    const silentPort = new URL(silent.url).port;
    for (let i = 0; i < 20; i += 1) {
      const host = i % 2 === 0 ? '127.0.0.1' : 'localhost';
      const res = await gw.send({
        to: `+1415555${9100 + i}`,
        body: 'x',
        statusCallback: `http://${host}:${silentPort}/x`,
      });
      expect(res.status).toBe(202);
    }
    // 16 requests in flight at most on the status-callback endpoint; the silent client has half of them.
    await silent.waitFor(8, PROMPTLY_MS);
    const port = new URL(healthy.url).port;
    const sent = await json(
      await gw.send(
        { to: '+14155550999', body: 'y', statusCallback: `http://localhost:${port}/ok` },
        { authorization: `Bearer ${otherClient}` },
      ),
    );
    await gw.waitForStatus(sent.id, 'delivered');
    // Well before the silent host's 30 s timeouts free a slot.
    await healthy.waitFor(3, PROMPTLY_MS, '/ok');
    expect(silent.requests).toHaveLength(8);
  });
});

describe('a wall clock stepped back', () => {
  it('holds neither an endpoint paused by Retry-After nor a retry', async () => {
    let offset = 0;
    const app = await startApp();
    gw = await startSendGateway({
      env: {
        APP_WEBHOOK_URL: `${app.url}/events`,
        APP_WEBHOOK_SECRET: newSecret(),
        APP_WEBHOOK_RETRY_SCHEDULE: '100ms',
      },
      deps: { now: () => Date.now() - offset },
    });
    app.answer((_req, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 }));
    await inbound(gw, '+14155550801', 'first');
    const [first] = await app.waitFor(1);
    // The endpoint is paused for 2 s and the event waits as long; then the clock is set back an hour.
    await new Promise((r) => setTimeout(r, 300));
    offset = 3_600_000;
    await inbound(gw, '+14155550802', 'second');
    const requests = await app.waitFor(3, PROMPTLY_MS);
    // Both after the pause, none held for the hour.
    for (const r of requests.slice(1)) expect(r.at - first!.at).toBeGreaterThanOrEqual(1_900);
    expect(new Set(requests.slice(1).map(senderOf))).toEqual(new Set(['+14155550801', '+14155550802']));
  });
});

/** The status-callback deliveries of a message's events, oldest first. */
async function callbackDeliveries(g: SendGateway, messageId: string): Promise<DeliveryInfo[]> {
  const { data } = (await json(await g.api(`/v1/events?messageId=${messageId}`))) as {
    data: { id: string }[];
  };
  const events = await Promise.all(
    data.reverse().map(async (e) => (await json(await g.api(`/v1/events/${e.id}`))) as EventDetail),
  );
  return events.flatMap((e) => e.deliveries.filter((d) => d.endpointId === 'status-callback'));
}
