import { afterEach, describe, expect, it } from 'vitest';
import type { EventDetail } from '../../src/core/events.js';
import { newSecret, TestApp } from '../helpers/app-server.js';
import { twilioInbound, unique } from '../helpers/carriers.js';
import { API_KEY, json } from '../helpers/gateway.js';
import { startSendGateway, type SendGateway } from '../helpers/send-gateway.js';

// The events API: inspection, redelivery, replay and the endpoints, with its bad input.

let gw: SendGateway | undefined;
let app: TestApp | undefined;
let other: TestApp | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  await app?.close();
  await other?.close();
});

async function start() {
  app = await TestApp.start();
  other = await TestApp.start();
  const secret = newSecret();
  gw = await startSendGateway({
    env: { APP_WEBHOOK_SECRET: secret, APP_WEBHOOK_RETRY_SCHEDULE: '100ms' },
    config: {
      defaultProvider: 'twilio',
      providers: { twilio: { from: '+14155550100', mps: null } },
      endpoints: [
        { id: 'main', url: `${app.url}/main` },
        { id: 'audit', url: `${other.url}/audit`, events: ['message.received'] },
      ],
    },
  });
  return { gw, app, other, secret };
}

const post = (g: SendGateway, path: string, body?: unknown, key = API_KEY) =>
  fetch(g.base + path, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });

async function inbound(g: SendGateway, body: string) {
  expect((await g.postTwilio(twilioInbound({ Body: body, MessageSid: unique('SM') }))).status).toBe(200);
}

describe('events API', () => {
  it('lists events with filters and a cursor, and shows one with its deliveries and attempts', async () => {
    const { gw, app, other } = await start();
    for (const body of ['one', 'two', 'three']) await inbound(gw, body);
    await app.waitFor(3);
    await other.waitFor(3);
    const page1 = await json(await gw.api('/v1/events?type=message.received&limit=2'));
    expect(page1.data).toHaveLength(2);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = await json(
      await gw.api(`/v1/events?type=message.received&limit=2&cursor=${page1.nextCursor}`),
    );
    expect(page2).toMatchObject({ data: [expect.any(Object)], nextCursor: null });
    const [newest] = page1.data;
    expect(newest).toMatchObject({ type: 'message.received', messageId: expect.any(String) });

    const byMessage = await json(await gw.api(`/v1/events?messageId=${newest.messageId}`));
    expect(byMessage.data.map((e: { id: string }) => e.id)).toEqual([newest.id]);

    const detail = (await json(await gw.api(`/v1/events/${newest.id}`))) as EventDetail;
    expect(detail.payload).toMatchObject({
      id: newest.id,
      type: 'message.received',
      data: { body: 'three' },
    });
    expect(detail.deliveries.map((d) => [d.endpointId, d.state, d.attempts])).toEqual([
      ['main', 'delivered', 1],
      ['audit', 'delivered', 1],
    ]);
    expect(detail.deliveries[0]!.attemptLog).toEqual([
      {
        outcome: 'delivered',
        statusCode: 204,
        error: null,
        startedAt: expect.any(String),
        durationMs: expect.any(Number),
      },
    ]);
    const none = await json(await gw.api('/v1/events?state=dead'));
    expect(none.data).toEqual([]);
  });

  it('redelivers an event, to all its endpoints or to one, with the same webhook-id', async () => {
    const { gw, app, other } = await start();
    await inbound(gw, 'again please');
    await app.waitFor(1);
    await other.waitFor(1);
    const id = app.payloads()[0]!.id;
    const all = await post(gw, `/v1/events/${id}/redeliver`);
    expect(all.status).toBe(202);
    expect((await json(all)).deliveries.map((d: { endpointId: string }) => d.endpointId)).toEqual([
      'main',
      'audit',
    ]);
    await app.waitFor(2);
    await other.waitFor(2);
    const one = await post(gw, `/v1/events/${id}/redeliver`, { endpointId: 'audit' });
    expect(one.status).toBe(202);
    await other.waitFor(3);
    expect(other.requests.map((r) => r.headers['webhook-id'])).toEqual([id, id, id]);
    expect(app.requests).toHaveLength(2);
    const detail = (await json(await gw.api(`/v1/events/${id}`))) as EventDetail;
    expect(detail.deliveries.map((d) => d.endpointId)).toEqual(['main', 'audit', 'main', 'audit', 'audit']);
  });

  it('disables and enables endpoints; a disabled endpoint is skipped and listed as such', async () => {
    const { gw, app, other } = await start();
    const disabled = await post(gw, '/v1/endpoints/audit/disable');
    expect(disabled.status).toBe(200);
    expect(await json(disabled)).toMatchObject({
      id: 'audit',
      enabled: false,
      disabledReason: 'disabled through the API',
    });
    await inbound(gw, 'only main');
    await app.waitFor(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(other.requests).toHaveLength(0);
    const list = await json(await gw.api('/v1/endpoints'));
    expect(
      list.data.map((e: { id: string; enabled: boolean; url: string }) => [e.id, e.enabled, e.url]),
    ).toEqual([
      ['main', true, `${app.url}/main`],
      ['audit', false, `${other.url}/audit`],
      // Messages' own callbacks (APP_WEBHOOK_SECRET is set): each delivery goes to its message's URL.
      ['status-callback', true, ''],
    ]);
    // Redelivery to a disabled endpoint is refused; enabling it and replaying sends what it missed.
    const id = app.payloads()[0]!.id;
    const refused = await post(gw, `/v1/events/${id}/redeliver`, { endpointId: 'audit' });
    expect(refused.status).toBe(409);
    expect((await json(refused)).error.code).toBe('endpoint_disabled');
    expect((await post(gw, '/v1/endpoints/audit/enable')).status).toBe(200);
    const since = new Date(Date.now() - 60_000).toISOString();
    const replay = await post(gw, `/v1/endpoints/audit/replay?since=${encodeURIComponent(since)}`);
    expect(await json(replay)).toEqual({ endpointId: 'audit', replayed: 1 });
    await other.waitFor(1);
    expect(other.payloads()[0]!.data.body).toBe('only main');
  });

  it('answers bad input with a stable code and the right status', async () => {
    const { gw } = await start();
    await inbound(gw, 'x');
    const cases: [Promise<Response>, number, string][] = [
      [gw.api('/v1/events', 'wrong-key-0123456789'), 401, 'unauthorized'],
      [gw.api('/v1/events?type=message.sent'), 400, 'invalid_request'],
      [gw.api('/v1/events?state=lost'), 400, 'invalid_request'],
      [gw.api('/v1/events?since=yesterday'), 400, 'invalid_request'],
      [gw.api('/v1/events?cursor=bm9wZQ'), 400, 'invalid_cursor'],
      [gw.api('/v1/events?colour=red'), 400, 'invalid_request'],
      [gw.api('/v1/events?limit=0'), 400, 'invalid_request'],
      [gw.api('/v1/events/0190d1c1-0000-7000-8000-000000000000'), 404, 'event_not_found'],
      [gw.api('/v1/events/not-an-id'), 404, 'event_not_found'],
      [post(gw, '/v1/events/0190d1c1-0000-7000-8000-000000000000/redeliver'), 404, 'event_not_found'],
      [post(gw, '/v1/endpoints/nope/disable'), 404, 'endpoint_not_found'],
      [post(gw, '/v1/endpoints/nope/replay?since=2026-01-01T00:00:00Z'), 404, 'endpoint_not_found'],
      [post(gw, '/v1/endpoints/main/replay'), 400, 'invalid_request'],
      [post(gw, '/v1/endpoints/main/replay?since=soon'), 400, 'invalid_request'],
      [post(gw, '/v1/endpoints/main/enable', { please: true }), 400, 'invalid_request'],
      [post(gw, '/v1/endpoints', {}), 404, 'not_found'],
    ];
    const { data } = await json(await gw.api('/v1/events'));
    const id = data[0].id;
    cases.push(
      [post(gw, `/v1/events/${id}/redeliver`, { endpointId: 'nope' }), 404, 'endpoint_not_found'],
      [post(gw, `/v1/events/${id}/redeliver`, { endpointId: { id: 'main' } }), 400, 'invalid_request'],
      [post(gw, `/v1/events/${id}/redeliver`, { endpoint: 'main' }), 400, 'invalid_request'],
    );
    for (const [pending, statusCode, code] of cases) {
      const res = await pending;
      const body = await json(res);
      expect([res.status, body.error?.code], JSON.stringify(body)).toEqual([statusCode, code]);
      expect(body.error.message).toEqual(expect.any(String));
    }
  });
});
