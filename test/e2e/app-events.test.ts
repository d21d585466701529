import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import type { EventDetail } from '../../src/core/events.js';
import { eventually } from '../helpers/wait.js';
import { newSecret, TestApp } from '../helpers/app-server.js';
import { twilioInbound, unique } from '../helpers/carriers.js';
import { json } from '../helpers/gateway.js';
import { startSendGateway, type SendGateway } from '../helpers/send-gateway.js';

// Signed event delivery to apps over real HTTP: the gateway, the provider simulator with its signed callbacks, and
// an app on loopback that checks every request with the `standardwebhooks` package.

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

const CUSTOMER = '+14155550123';

async function withApp(env: Record<string, string> = {}, config?: unknown) {
  const app = await startApp();
  const secret = newSecret();
  gw = await startSendGateway({
    env: {
      APP_WEBHOOK_URL: `${app.url}/events`,
      APP_WEBHOOK_SECRET: secret,
      APP_WEBHOOK_RETRY_SCHEDULE: '100ms,200ms',
      // Status callbacks go to apps on loopback here, which the gateway refuses unless allowed.
      CALLBACK_ALLOWED_NETWORKS: '127.0.0.1/32',
      ...env,
    },
    ...(config !== undefined && { config }),
  });
  return { app, secret, gw };
}

describe('event delivery', () => {
  it('delivers message.received for an inbound message, signed per Standard Webhooks', async () => {
    const { app, secret, gw } = await withApp();
    const res = await gw.postTwilio(twilioInbound({ Body: 'hello app' }));
    expect(res.status).toBe(200);
    const [request] = await app.waitFor(1);
    expect(request?.headers['content-type']).toBe('application/json');
    const [event] = app.verified(secret);
    expect(event).toMatchObject({
      type: 'message.received',
      data: { direction: 'inbound', body: 'hello app', from: CUSTOMER, status: 'received' },
    });
    expect(request?.headers['webhook-id']).toBe(event?.id);
    // A wrong secret does not verify: the signature really is over this body with this key.
    expect(() => app.verified(newSecret())).toThrow();
    // Tampering with the body breaks it.
    expect(() =>
      new Webhook(secret).verify(request!.body.replace('hello', 'HELLO'), request!.headers as never),
    ).toThrow();
  });

  it('delivers every status change of a sent message in order, and message.failed for a failure', async () => {
    const { app, secret, gw } = await withApp();
    gw.sim.setFaults('twilio', { recipientErrors: { '+14155550199': '21211' } });
    const sent = await json(await gw.send({ to: CUSTOMER, body: 'hi' }));
    await gw.waitForStatus(sent.id, 'delivered');
    const failed = await json(await gw.send({ to: '+14155550199', body: 'hi' }));
    await gw.waitForStatus(failed.id, 'failed');
    await app.waitFor(4);
    const events = app.verified(secret);
    expect(events.filter((e) => e.data.id === sent.id).map((e) => [e.type, e.data.status])).toEqual([
      ['message.status', 'sending'],
      ['message.status', 'sent'],
      ['message.status', 'delivered'],
    ]);
    expect(events.filter((e) => e.data.id === failed.id).map((e) => [e.type, e.data.status])).toEqual([
      ['message.failed', 'failed'],
    ]);
  });

  it('sends each endpoint only the event types its filter takes', async () => {
    const a = await startApp();
    const b = await startApp();
    const secret = newSecret();
    const bSecret = newSecret();
    gw = await startSendGateway({
      env: { APP_WEBHOOK_SECRET: secret, APP_WEBHOOK_RETRY_SCHEDULE: '100ms' },
      config: {
        defaultProvider: 'twilio',
        providers: { twilio: { from: '+14155550100', mps: null } },
        endpoints: [
          { id: 'inbox', url: `${a.url}/in`, events: ['message.received'] },
          { id: 'failures', url: `${b.url}/f`, events: ['message.failed'], secret: bSecret },
        ],
      },
    });
    gw.sim.setFaults('twilio', { recipientErrors: { '+14155550199': '21211' } });
    await gw.postTwilio(twilioInbound());
    const failed = await json(await gw.send({ to: '+14155550199', body: 'x' }));
    await gw.waitForStatus(failed.id, 'failed');
    await a.waitFor(1);
    await b.waitFor(1);
    const ok = await json(await gw.send({ to: CUSTOMER, body: 'y' }));
    await gw.waitForStatus(ok.id, 'delivered');
    await new Promise((r) => setTimeout(r, 200));
    expect(a.verified(secret).map((e) => e.type)).toEqual(['message.received']);
    // Its own secret: the shared one does not verify it.
    expect(b.verified(bSecret).map((e) => e.type)).toEqual(['message.failed']);
    expect(() => b.verified(secret)).toThrow();
  });

  it('delivers a Telnyx inbound message too', async () => {
    const { app, secret, gw } = await withApp();
    const injected = await gw.sim.injectInbound({
      provider: 'telnyx',
      from: '+13125550099',
      to: '+13125550001',
      body: 'via telnyx',
      webhookUrl: `${gw.base}/webhooks`,
    });
    expect(injected.status).toBe(200);
    await app.waitFor(1);
    expect(app.verified(secret)[0]).toMatchObject({
      type: 'message.received',
      data: { provider: 'telnyx', body: 'via telnyx' },
    });
  });
});

/** An inbound Twilio message from `from`; resolves its stored message id once acknowledged. */
async function inbound(gw: SendGateway, from: string, body: string): Promise<void> {
  const res = await gw.postTwilio(twilioInbound({ From: from, Body: body, MessageSid: unique('SM') }));
  expect(res.status).toBe(200);
}

/** Polls GET /v1/events/:id until `done` holds. */
async function eventUntil(
  gw: SendGateway,
  id: string,
  done: (e: EventDetail) => boolean,
  timeoutMs = 5000,
): Promise<EventDetail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const event = (await json(await gw.api(`/v1/events/${id}`))) as EventDetail;
    if (done(event)) return event;
    if (Date.now() > deadline) throw new Error(`event ${id}: ${JSON.stringify(event)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('retries, order and endpoint answers', () => {
  it('retries on the schedule, records each attempt, then gives up (dead)', async () => {
    const { app, gw } = await withApp();
    app.answer(() => ({ status: 500, body: 'boom' }));
    await inbound(gw, CUSTOMER, 'one');
    const requests = await app.waitFor(3);
    const gaps = [requests[1]!.at - requests[0]!.at, requests[2]!.at - requests[1]!.at];
    // 100ms, then 200ms (the schedule), then dead: no fourth request.
    expect(gaps[0]).toBeGreaterThanOrEqual(95);
    expect(gaps[1]).toBeGreaterThanOrEqual(195);
    const id = app.payloads()[0]!.id;
    const event = await eventUntil(gw, id, (e) => e.deliveries[0]?.state === 'dead');
    expect(event.deliveries).toHaveLength(1);
    expect(event.deliveries[0]).toMatchObject({ endpointId: 'default', state: 'dead', attempts: 3 });
    expect(event.deliveries[0]!.attemptLog).toEqual([
      expect.objectContaining({ outcome: 'retry', statusCode: 500, error: 'HTTP 500' }),
      expect.objectContaining({ outcome: 'retry', statusCode: 500, error: 'HTTP 500' }),
      expect.objectContaining({ outcome: 'dead', statusCode: 500, error: 'HTTP 500' }),
    ]);
    for (const a of event.deliveries[0]!.attemptLog) expect(a.durationMs).toBeGreaterThanOrEqual(0);
    await new Promise((r) => setTimeout(r, 400));
    expect(app.requests).toHaveLength(3);
  });

  it('keeps a conversation in order while its event waits for a retry; other conversations go on', async () => {
    // A retry a second later: the other conversation's event (two requests away) goes first even on a loaded machine.
    const { app, gw } = await withApp({ APP_WEBHOOK_RETRY_SCHEDULE: '1s' });
    let failedOnce = false;
    app.answer((req) => {
      const event = JSON.parse(req.body);
      if (event.data.body === 'first' && !failedOnce) {
        failedOnce = true;
        return { status: 503 };
      }
      return { status: 200 };
    });
    await inbound(gw, CUSTOMER, 'first');
    await app.waitFor(1);
    await inbound(gw, CUSTOMER, 'second');
    await inbound(gw, '+14155550177', 'other conversation');
    await app.waitFor(4);
    const bodies = app.payloads().map((e) => e.data.body);
    // The other conversation did not wait for the retry; this one's second event came after its first.
    expect(bodies.indexOf('other conversation')).toBeLessThan(bodies.lastIndexOf('first'));
    expect(bodies.filter((b) => b !== 'other conversation')).toEqual(['first', 'first', 'second']);
  });

  it('honours Retry-After and holds the endpoint for that long', async () => {
    const { app, gw } = await withApp();
    app.answer((_req, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    await inbound(gw, CUSTOMER, 'slow down');
    await app.waitFor(1);
    await inbound(gw, '+14155550177', 'another');
    const requests = await app.waitFor(3, 5000);
    // Neither the retry nor the other conversation's event went before the endpoint's second was up.
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(950);
    expect(requests[2]!.at - requests[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('counts a redirect as a failure and does not follow it', async () => {
    const { app, gw } = await withApp();
    app.answer((req, i) =>
      i === 0 ? { status: 302, headers: { location: `${app.url}/elsewhere` } } : { status: 200 },
    );
    await inbound(gw, CUSTOMER, 'moved?');
    await app.waitFor(2);
    expect(app.requests.map((r) => r.path)).toEqual(['/events', '/events']);
    const id = app.payloads()[0]!.id;
    const event = await eventUntil(gw, id, (e) => e.deliveries[0]?.state === 'delivered');
    expect(event.deliveries[0]!.attemptLog.map((a) => [a.outcome, a.statusCode])).toEqual([
      ['retry', 302],
      ['delivered', 200],
    ]);
    expect(event.deliveries[0]!.attemptLog[0]!.error).toMatch(/redirect/);
  });

  it('disables the endpoint on 410 Gone; enabling it sends what waited, replay sends what it missed', async () => {
    const { app, gw } = await withApp();
    app.answer(() => ({ status: 410 }));
    await inbound(gw, CUSTOMER, 'before');
    await app.waitFor(1);
    const disabled = await eventually(async () => {
      const { data } = await json(await gw.api('/v1/endpoints'));
      return data[0].enabled === false ? data[0] : null;
    });
    expect(disabled).toMatchObject({
      id: 'default',
      enabled: false,
      disabledReason: 'the endpoint answered 410 Gone',
      pending: 1,
    });
    const since = new Date(Date.now() - 1000).toISOString();
    await inbound(gw, CUSTOMER, 'while disabled');
    await new Promise((r) => setTimeout(r, 300));
    expect(app.requests).toHaveLength(1); // nothing goes to a disabled endpoint

    app.answer(() => ({ status: 200 }));
    // Replay refuses a disabled endpoint: enable it first.
    const refused = await gw.send({}, {}, `/v1/endpoints/default/replay?since=${encodeURIComponent(since)}`);
    expect(refused.status).toBe(409);
    expect((await json(refused)).error.code).toBe('endpoint_disabled');
    const enabled = await gw.send({}, {}, '/v1/endpoints/default/enable');
    expect(enabled.status).toBe(200);
    await app.waitFor(2);
    expect(app.payloads()[1]!.data.body).toBe('before');
    const replay = await gw.send({}, {}, `/v1/endpoints/default/replay?since=${encodeURIComponent(since)}`);
    expect(replay.status).toBe(202);
    expect(await json(replay)).toEqual({ endpointId: 'default', replayed: 1 });
    await app.waitFor(3);
    expect(app.payloads()[2]!.data.body).toBe('while disabled');
  });
});

describe('an app that is slow or down', () => {
  it('records a timeout and a refused connection as failed attempts, then delivers', async () => {
    const { app, gw } = await withApp({ APP_WEBHOOK_TIMEOUT_MS: '200' });
    app.answer((_req, i) => (i === 0 ? { status: 200, delayMs: 600 } : { status: 200 }));
    await inbound(gw, CUSTOMER, 'slow');
    await app.waitFor(2);
    const id = app.payloads()[0]!.id;
    const slow = await eventUntil(gw, id, (e) => e.deliveries[0]?.state === 'delivered');
    expect(slow.deliveries[0]!.attemptLog.map((a) => [a.outcome, a.statusCode, a.error])).toEqual([
      ['retry', null, 'no answer within 200 ms'],
      ['delivered', 200, null],
    ]);
    expect(slow.deliveries[0]!.attemptLog[0]!.durationMs).toBeGreaterThanOrEqual(190);

    await app.close();
    await inbound(gw, CUSTOMER, 'down');
    const down = await eventually(async () => {
      const { data } = await json(await gw.api('/v1/events?type=message.received&limit=1'));
      const event = (await json(await gw.api(`/v1/events/${data[0].id}`))) as EventDetail;
      return event.deliveries[0]?.state === 'dead' ? event : null;
    });
    expect(down.deliveries[0]!.attemptLog.map((a) => a.error)).toEqual([
      'connection refused (ECONNREFUSED)',
      'connection refused (ECONNREFUSED)',
      'connection refused (ECONNREFUSED)',
    ]);
  });

  it('delivers events left undelivered by a gateway that stopped, after it starts again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-events-'));
    const db = join(dir, 'switchboard.db');
    const app = await startApp();
    const secret = newSecret();
    const env = {
      DATABASE_URL: db,
      APP_WEBHOOK_URL: `${app.url}/events`,
      APP_WEBHOOK_SECRET: secret,
      APP_WEBHOOK_RETRY_SCHEDULE: '500ms',
    };
    app.answer(() => ({ status: 503 }));
    gw = await startSendGateway({ env });
    await inbound(gw, CUSTOMER, 'while the app was failing');
    await app.waitFor(1);
    await gw.close();
    gw = undefined;
    app.answer(() => ({ status: 200 }));
    gw = await startSendGateway({ env });
    await app.waitFor(2);
    const events = app.verified(secret);
    expect(events.map((e) => e.data.body)).toEqual([
      'while the app was failing',
      'while the app was failing',
    ]);
    const detail = await eventUntil(gw, events[0]!.id, (e) => e.deliveries[0]?.state === 'delivered');
    expect(detail.deliveries[0]!.attemptLog.map((a) => a.statusCode)).toEqual([503, 200]);
    await gw.close();
    gw = undefined;
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('backlog beyond memory', () => {
  it('holds only its share of deliveries in memory and loads the rest as they go', async () => {
    const app = await startApp();
    const secret = newSecret();
    app.answer(() => ({ status: 200, delayMs: 100 }));
    gw = await startSendGateway({
      env: { APP_WEBHOOK_URL: `${app.url}/events`, APP_WEBHOOK_SECRET: secret },
      deps: { deliveryCapacity: 2 },
    });
    const senders = Array.from({ length: 8 }, (_, i) => `+1415555020${i}`);
    for (const from of senders) await inbound(gw, from, `from ${from}`);
    await app.waitFor(8, 10_000);
    expect(new Set(app.verified(secret).map((e) => e.data.from))).toEqual(new Set(senders));
  });
});

describe('a message’s own status callback', () => {
  it('gets that message’s status events, signed, and no other message’s', async () => {
    const { app, secret, gw } = await withApp();
    const callbackApp = await startApp();
    const tracked = await json(
      await gw.send({ to: CUSTOMER, body: 'tracked', statusCallback: `${callbackApp.url}/cb?order=42` }),
    );
    const untracked = await json(await gw.send({ to: '+14155550177', body: 'untracked' }));
    await gw.waitForStatus(tracked.id, 'delivered');
    await gw.waitForStatus(untracked.id, 'delivered');
    await callbackApp.waitFor(3);
    await app.waitFor(6);
    await new Promise((r) => setTimeout(r, 200));
    expect(callbackApp.requests.map((r) => r.path)).toEqual(['/cb?order=42', '/cb?order=42', '/cb?order=42']);
    expect(callbackApp.verified(secret).map((e) => [e.data.id, e.data.status])).toEqual([
      [tracked.id, 'sending'],
      [tracked.id, 'sent'],
      [tracked.id, 'delivered'],
    ]);
    // The app's endpoint still gets everything.
    expect(new Set(app.payloads().map((e) => e.data.id))).toEqual(new Set([tracked.id, untracked.id]));
    const endpoints = await json(await gw.api('/v1/endpoints'));
    expect(endpoints.data.map((e: { id: string }) => e.id)).toEqual(['default', 'status-callback']);
  });

  it('ends a callback answered 410 without disabling other messages’ callbacks', async () => {
    const { gw } = await withApp();
    const callbackApp = await startApp();
    callbackApp.answer((req) => (req.path === '/gone' ? { status: 410 } : { status: 200 }));
    const gone = await json(
      await gw.send({ to: CUSTOMER, body: 'a', statusCallback: `${callbackApp.url}/gone` }),
    );
    await gw.waitForStatus(gone.id, 'delivered');
    const ok = await json(
      await gw.send({ to: '+14155550177', body: 'b', statusCallback: `${callbackApp.url}/ok` }),
    );
    await gw.waitForStatus(ok.id, 'delivered');
    await callbackApp.waitFor(3, 5000, '/ok');
    // One attempt per event to the gone URL (no retries), and the endpoint stays enabled.
    expect(callbackApp.requests.filter((r) => r.path === '/gone')).toHaveLength(3);
    const { data } = await json(await gw.api('/v1/endpoints'));
    expect(data.find((e: { id: string }) => e.id === 'status-callback')).toMatchObject({
      enabled: true,
      dead: 3,
    });
  });

  it('refuses a callback URL with credentials in it', async () => {
    const { gw } = await withApp();
    const res = await gw.send({ to: CUSTOMER, body: 'x', statusCallback: 'https://user:pw@app.example/cb' });
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe('invalid_request');
  });

  it('is refused by the send API when no APP_WEBHOOK_SECRET could sign it', async () => {
    gw = await startSendGateway();
    const res = await gw.send({ to: CUSTOMER, body: 'x', statusCallback: 'https://app.example/cb' });
    expect(res.status).toBe(422);
    expect((await json(res)).error.code).toBe('status_callback_unavailable');
  });
});

describe('when records cannot be written', () => {
  it('writes the records again, never posting an event twice, and goes on once they can be written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-events-'));
    const db = join(dir, 'switchboard.db');
    const app = await startApp();
    app.answer(() => ({ status: 200, delayMs: 400 }));
    const secret = newSecret();
    gw = await startSendGateway({
      env: { DATABASE_URL: db, APP_WEBHOOK_URL: `${app.url}/events`, APP_WEBHOOK_SECRET: secret },
    });
    const senders = Array.from({ length: 12 }, (_, i) => `+1415555030${String(i).padStart(2, '0')}`);
    await Promise.all(senders.map((from) => inbound(gw!, from, `from ${from}`)));
    await app.waitFor(8); // the endpoint's concurrency
    // Another process takes the database's write lock: every write now fails (after busy_timeout), reads work.
    const locker = new Database(db);
    locker.exec('BEGIN IMMEDIATE');
    try {
      // Long enough for the records to fail (busy_timeout 5 s) and be tried again.
      await new Promise((r) => setTimeout(r, 6500));
      expect(new Set(app.requests.map((r) => r.headers['webhook-id'])).size).toBe(app.requests.length);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    await app.waitFor(12, 10_000);
    await eventually(async () => {
      const { data } = await json(await gw!.api('/v1/events?state=pending'));
      return data.length === 0 ? true : null;
    }, 15_000);
    // All recorded as delivered, and each posted once: the records were written again, not the events re-posted.
    const ids = app.requests.map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(12);
    expect(ids).toHaveLength(12);
    await gw.close();
    gw = undefined;
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);
});

describe('status callbacks that ask to slow down', () => {
  it('hold only their own message, not other messages’ callbacks', async () => {
    const { gw } = await withApp();
    const callbackApp = await startApp();
    callbackApp.answer((req) =>
      req.path === '/slow' ? { status: 429, headers: { 'retry-after': '60' } } : { status: 200 },
    );
    const slow = await json(
      await gw.send({ to: CUSTOMER, body: 'a', statusCallback: `${callbackApp.url}/slow` }),
    );
    await callbackApp.waitFor(1, 5000, '/slow');
    const ok = await json(
      await gw.send({ to: '+14155550177', body: 'b', statusCallback: `${callbackApp.url}/ok` }),
    );
    await gw.waitForStatus(ok.id, 'delivered');
    await callbackApp.waitFor(3, 5000, '/ok');
    expect(slow.id).not.toBe(ok.id);
  });

  it('hold only their own message, even another message to the same number (a day-long Retry-After)', async () => {
    const { gw } = await withApp();
    const callbackApp = await startApp();
    callbackApp.answer((req) =>
      req.path === '/down' ? { status: 503, headers: { 'retry-after': '86400' } } : { status: 200 },
    );
    // One client's message, whose callback URL is failing...
    const held = await json(
      await gw.send({ to: CUSTOMER, body: 'a', statusCallback: `${callbackApp.url}/down` }),
    );
    await gw.waitForStatus(held.id, 'delivered');
    await callbackApp.waitFor(1, 5000, '/down');
    // ... and another client's message to the same person: its callbacks are its own.
    const other = await json(
      await gw.send({ to: CUSTOMER, body: 'b', statusCallback: `${callbackApp.url}/up` }),
    );
    await gw.waitForStatus(other.id, 'delivered');
    const arrived = await callbackApp.waitFor(3, 5000, '/up');
    expect(arrived.map((r) => (JSON.parse(r.body) as { data: { status: string } }).data.status)).toEqual([
      'sending',
      'sent',
      'delivered',
    ]);
    // The failing one waits its day, in order: one attempt so far, its later events behind it.
    expect(callbackApp.requests.filter((r) => r.path === '/down')).toHaveLength(1);
  });
});
