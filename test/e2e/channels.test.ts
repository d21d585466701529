import { afterEach, describe, expect, it } from 'vitest';
import { newSecret, TestApp } from '../helpers/app-server.js';
import type { Message } from '../../src/core/message.js';
import { json } from '../helpers/gateway.js';
import { eventually } from '../helpers/wait.js';
import { startSendGateway, TELNYX_FROM, TWILIO_FROM, type SendGateway } from '../helpers/send-gateway.js';

// Channels, each carrier's own limits and encodings, and Telnyx's group MMS and rate-limit headers, end to end:
// API -> store + outbox -> dispatcher -> official SDK -> simulator (-> signed callbacks back into the gateway).

let gw: SendGateway;
let app: TestApp | undefined;
afterEach(async () => {
  await gw?.close();
  await app?.close();
  app = undefined;
});

const TO = '+14155550123';
const WHATSAPP_FROM = '+14155550155';

function config(overrides: Record<string, unknown> = {}) {
  return {
    defaultProvider: 'twilio',
    failover: ['twilio', 'telnyx'],
    providers: {
      twilio: { from: TWILIO_FROM, whatsappFrom: WHATSAPP_FROM, mps: null, maxAttempts: 1 },
      telnyx: { from: TELNYX_FROM, mps: null, maxAttempts: 1 },
    },
    retry: { baseDelayMs: 10, maxDelayMs: 40 },
    ...overrides,
  };
}

async function sendOk(body: unknown): Promise<string> {
  const res = await gw.send(body);
  const payload = await json(res);
  expect(res.status, JSON.stringify(payload)).toBe(202);
  return payload.id as string;
}

async function refused(body: unknown): Promise<{ status: number; code: string; message: string }> {
  const res = await gw.send(body);
  const payload = await json(res);
  return { status: res.status, code: payload.error?.code, message: payload.error?.message };
}

describe('WhatsApp', () => {
  it('sends a whatsapp: address on WhatsApp through Twilio, from the configured WhatsApp sender', async () => {
    gw = await startSendGateway({ config: config() });
    const id = await sendOk({ to: `whatsapp:${TO}`, body: 'Your table is ready' });
    const viaChannel = await sendOk({ to: TO, body: 'Also on WhatsApp', channel: 'whatsapp' });
    const sent = await gw.sim.waitForMessages(2);
    expect(sent.map((m) => [m.provider, m.to, m.from])).toEqual([
      ['twilio', `whatsapp:${TO}`, `whatsapp:${WHATSAPP_FROM}`],
      ['twilio', `whatsapp:${TO}`, `whatsapp:${WHATSAPP_FROM}`],
    ]);
    for (const messageId of [id, viaChannel]) {
      const message = await gw.waitForStatus(messageId, 'delivered');
      // Stored as plain E.164 with the channel saying WhatsApp; not an SMS, so no segments.
      expect(message).toMatchObject({
        channel: 'whatsapp',
        to: TO,
        from: WHATSAPP_FROM,
        segments: null,
        encoding: null,
      });
    }
  });

  it("takes the request's own WhatsApp sender, written either way", async () => {
    gw = await startSendGateway({ config: config() });
    await sendOk({ to: TO, from: 'whatsapp:+14155550166', body: 'from our other WhatsApp number' });
    const [sent] = await gw.sim.waitForMessages(1);
    expect(sent).toMatchObject({ to: `whatsapp:${TO}`, from: 'whatsapp:+14155550166' });
  });

  it('refuses what it cannot send on WhatsApp instead of sending an SMS', async () => {
    gw = await startSendGateway({
      config: config({ routes: [{ toPrefix: '+44', provider: 'telnyx' }] }),
    });
    // Telnyx's messaging API cannot carry WhatsApp: named, or chosen by a routing rule, it is refused.
    expect(await refused({ to: `whatsapp:${TO}`, body: 'x', provider: 'telnyx' })).toMatchObject({
      status: 422,
      code: 'unsupported_channel',
    });
    expect(await refused({ to: 'whatsapp:+447911123456', body: 'x' })).toMatchObject({
      status: 422,
      code: 'unsupported_channel',
    });
    // An SMS to the same destination still goes by the rule.
    await sendOk({ to: '+447911123456', body: 'x' });
    // Asking for SMS with a WhatsApp address is a contradiction; another scheme is not a phone number.
    expect(await refused({ to: `whatsapp:${TO}`, body: 'x', channel: 'sms' })).toMatchObject({
      status: 400,
      code: 'channel_conflict',
    });
    expect(await refused({ to: `sms:${TO}`, body: 'x' })).toMatchObject({
      status: 400,
      code: 'invalid_phone_number',
    });
    expect(await refused({ to: TO, body: 'x', channel: 'fax' })).toMatchObject({
      status: 400,
      code: 'invalid_request',
    });
    await gw.sim.waitForMessages(1);
    expect(gw.sim.messages().map((m) => [m.provider, m.to])).toEqual([['telnyx', '+447911123456']]);
  });

  it('needs a WhatsApp sender: the SMS number is never assumed to be one', async () => {
    gw = await startSendGateway({
      config: config({ providers: { twilio: { from: TWILIO_FROM }, telnyx: { from: TELNYX_FROM } } }),
    });
    expect(await refused({ to: `whatsapp:${TO}`, body: 'x' })).toMatchObject({
      status: 422,
      code: 'from_required',
    });
  });

  it('never fails a WhatsApp message over to a carrier that cannot carry it', async () => {
    gw = await startSendGateway({ config: config() });
    gw.sim.setFaults('twilio', { down: true });
    const id = await sendOk({ to: `whatsapp:${TO}`, body: 'only on WhatsApp' });
    const message = await gw.waitForStatus(id, 'failed');
    expect(message.attempts.map((a) => [a.provider, a.outcome])).toEqual([['twilio', 'failed']]);
    expect(message).toMatchObject({ provider: 'twilio', channel: 'whatsapp' });
    expect(gw.sim.messages()).toEqual([]);
    // An SMS in the same situation does fail over: the difference is the channel.
    const sms = await sendOk({ to: TO, body: 'an SMS' });
    expect(await gw.waitForStatus(sms, 'delivered')).toMatchObject({ provider: 'telnyx' });
  });
});

describe("each carrier's own encoding and limits", () => {
  it("refuses a body over Telnyx's 10 parts as Telnyx counts them, and stores Telnyx's count", async () => {
    gw = await startSendGateway({ config: config() });
    // 1530 GSM-7 characters are exactly 10 parts of 153.
    const ten = await sendOk({ to: TO, body: 'a'.repeat(1530), provider: 'telnyx' });
    expect(await gw.waitForStatus(ten, 'delivered')).toMatchObject({ segments: 10, encoding: 'GSM-7' });
    expect(await refused({ to: TO, body: 'a'.repeat(1531), provider: 'telnyx' })).toMatchObject({
      status: 400,
      code: 'body_too_long',
    });
    // € is GSM-7 to Twilio (two septets: 700 of them are 10 parts) but outside Telnyx's set: UTF-16, 11 parts.
    const euros = '€'.repeat(700);
    const refusal = await refused({ to: TO, body: euros, provider: 'telnyx' });
    expect(refusal).toMatchObject({ status: 400, code: 'body_too_long' });
    expect(refusal.message).toMatch(/11 SMS segments in UCS-2/);
    const onTwilio = await sendOk({ to: TO, body: euros });
    expect(await gw.waitForStatus(onTwilio, 'delivered')).toMatchObject({
      provider: 'twilio',
      segments: 10,
      encoding: 'GSM-7',
    });
    // The simulator's Telnyx encodes as Telnyx does: Ç is UTF-16 there.
    await sendOk({ to: TO, body: 'Ça va', provider: 'telnyx' });
    await gw.sim.waitForMessages(3);
    expect(gw.sim.messages('telnyx').map((m) => [m.encoding, m.segments])).toEqual([
      ['GSM-7', 10],
      ['UCS-2', 1],
    ]);
  });

  it('does not fail over to a carrier whose limits the body exceeds, and says why it failed', async () => {
    gw = await startSendGateway({ config: config() });
    gw.sim.setFaults('twilio', { down: true });
    const id = await sendOk({ to: TO, body: '€'.repeat(700) });
    const message = await gw.waitForStatus(id, 'failed');
    expect(message).toMatchObject({ provider: 'twilio', errorCode: 'no_fitting_carrier' });
    expect(message.errorMessage).toMatch(/telnyx accepts at most 10/);
    // The attempt keeps Twilio's own answer.
    expect(message.attempts.map((a) => [a.provider, a.outcome, a.httpStatus])).toEqual([
      ['twilio', 'failed', 503],
    ]);
    expect(gw.sim.messages('telnyx')).toEqual([]);
  });

  it("re-counts a message that fails over by the new carrier's rules and stores that count", async () => {
    gw = await startSendGateway({ config: config() });
    gw.sim.setFaults('twilio', { down: true });
    // 100 Ç: one GSM-7 segment to Twilio, 100 UTF-16 units (two parts) to Telnyx.
    const id = await sendOk({ to: TO, body: 'Ç'.repeat(100) });
    const queued = await gw.waitFor(id, () => true);
    expect(queued).toMatchObject({ segments: 1, encoding: 'GSM-7' });
    const message = await gw.waitForStatus(id, 'delivered');
    expect(message).toMatchObject({ provider: 'telnyx', from: TELNYX_FROM, segments: 2, encoding: 'UCS-2' });
    expect(gw.sim.messages('telnyx')).toEqual([expect.objectContaining({ segments: 2, encoding: 'UCS-2' })]);
  });
});

describe('Telnyx rate limits', () => {
  it('waits out x-ratelimit-reset on a 429 without Retry-After, for the whole lane', async () => {
    gw = await startSendGateway({
      config: config({
        defaultProvider: 'telnyx',
        failover: [],
        providers: { telnyx: { from: TELNYX_FROM, mps: null, concurrency: 1, maxAttempts: 3 } },
        // A backoff far shorter than the reset: a wait of about 2 s can only come from the header.
        retry: { baseDelayMs: 10, maxDelayMs: 20 },
      }),
    });
    gw.sim.setFaults('telnyx', { script: [{ status: 429, retryAfterSeconds: 2 }] });
    const first = await sendOk({ to: TO, body: 'first' });
    const limited = await gw.waitFor(first, (m) => m.attempts.length === 1);
    const second = await sendOk({ to: '+14155550124', body: 'second, behind it on the lane' });
    const a = await gw.waitForStatus(first, 'delivered', 10_000);
    const b = await gw.waitForStatus(second, 'delivered', 10_000);
    const [rateLimited] = limited.attempts;
    expect(rateLimited).toMatchObject({ outcome: 'retry', errorClass: 'rate_limited', httpStatus: 429 });
    const resetAt = Date.parse(rateLimited!.startedAt) + rateLimited!.durationMs + 2000;
    const retried = a.attempts.at(-1)!;
    expect(retried.outcome).toBe('accepted');
    expect(Date.parse(retried.startedAt)).toBeGreaterThanOrEqual(resetAt - 5);
    // The other message waited for the same reset rather than hit the limit again.
    expect(b.attempts).toHaveLength(1);
    expect(Date.parse(b.attempts[0]!.startedAt)).toBeGreaterThanOrEqual(resetAt - 5);
    expect(gw.sim.stats('telnyx')).toMatchObject({ rateLimited: 1, accepted: 2 });
  });
});

describe('Telnyx group MMS', () => {
  it('stores an inbound group message with its cc, and replies to the whole group through group MMS', async () => {
    const OTHER = '+14155550177';
    gw = await startSendGateway({
      config: config(),
      deps: { onInbound: (m) => (m.cc.length > 0 ? { body: 'Thanks, all of you' } : undefined) },
    });
    const injected = await gw.sim.injectInbound({
      provider: 'telnyx',
      from: TO,
      to: TELNYX_FROM,
      // Telnyx lists the other participants; our own number is not a recipient of our reply.
      cc: [OTHER, TELNYX_FROM],
      body: 'Dinner at 8?',
      webhookUrl: `${gw.base}/webhooks`,
    });
    expect(injected.status).toBe(200);
    const page = await gw.store.listMessages({ direction: 'inbound' }, { limit: 10 });
    expect(page.data).toEqual([
      expect.objectContaining({ from: TO, to: TELNYX_FROM, cc: [OTHER], channel: 'mms', provider: 'telnyx' }),
    ]);
    const [sent] = await gw.sim.waitForMessages(1);
    expect(sent).toMatchObject({
      provider: 'telnyx',
      from: TELNYX_FROM,
      to: TO,
      cc: [OTHER],
      body: 'Thanks, all of you',
    });
    const outbound = await gw.store.listMessages({ direction: 'outbound' }, { limit: 10 });
    expect(outbound.data).toEqual([
      expect.objectContaining({ to: TO, cc: [OTHER], channel: 'mms', provider: 'telnyx' }),
    ]);
    await gw.waitForStatus(outbound.data[0]!.id, 'delivered');
  });

  /** A gateway with Telnyx as the default carrier whose handler answers group messages only. */
  async function groupGateway(overrides: Record<string, unknown> = {}): Promise<void> {
    gw = await startSendGateway({
      config: config({ defaultProvider: 'telnyx', failover: ['telnyx', 'twilio'], ...overrides }),
      deps: { onInbound: (m) => (m.cc.length > 0 ? { body: 'Thanks, all of you' } : undefined) },
    });
  }

  const toTelnyx = (from: string, body: string, cc: string[] = []) =>
    gw.sim.injectInbound({
      provider: 'telnyx',
      from,
      to: TELNYX_FROM,
      cc,
      body,
      webhookUrl: `${gw.base}/webhooks`,
    });

  async function theReply(): Promise<Message> {
    const outbound = await gw.store.listMessages({ direction: 'outbound' }, { limit: 10 });
    expect(outbound.data).toHaveLength(1);
    return outbound.data[0]!;
  }

  it('leaves a participant who opted out of our number out of the reply; none left: a plain MMS to the sender', async () => {
    const [OTHER, THIRD] = ['+14155550177', '+14155550178'];
    await groupGateway();
    expect((await toTelnyx(OTHER, 'STOP')).status).toBe(200);
    expect(await gw.store.isOptedOut(OTHER, TELNYX_FROM)).toBe(true);
    await toTelnyx(TO, 'Dinner at 8?', [OTHER]);
    const [sent] = await gw.sim.waitForMessages(1);
    expect(sent).toMatchObject({ provider: 'telnyx', from: TELNYX_FROM, to: TO, body: 'Thanks, all of you' });
    expect(sent!.cc ?? []).toEqual([]);
    const reply = await theReply();
    expect(reply).toMatchObject({ to: TO, cc: [], channel: 'mms' });
    await gw.waitForStatus(reply.id, 'delivered');

    // With others left, the group gets it without them.
    gw.sim.resetRecords();
    await toTelnyx(TO, 'And lunch?', [OTHER, THIRD]);
    const [second] = await gw.sim.waitForMessages(1);
    expect(second).toMatchObject({ to: TO, cc: [THIRD] });
  });

  it('never sends the reply to another number of ours in the same group (it would answer: a loop)', async () => {
    const OTHER = '+14155550177';
    const SECOND_TELNYX = '+13125550002';
    await groupGateway({ routes: [{ from: SECOND_TELNYX, provider: 'telnyx' }] });
    await toTelnyx(TO, 'Who is in?', [OTHER, SECOND_TELNYX, TWILIO_FROM, WHATSAPP_FROM]);
    const [sent] = await gw.sim.waitForMessages(1);
    expect(sent).toMatchObject({ to: TO, cc: [OTHER] });
    expect(await theReply()).toMatchObject({ cc: [OTHER] });
  });

  it('leaves out a participant who opts out while the reply waits for a retry, and records whom it went to', async () => {
    const [OTHER, THIRD] = ['+14155550177', '+14155550178'];
    await groupGateway({
      providers: {
        twilio: { from: TWILIO_FROM, mps: null },
        telnyx: { from: TELNYX_FROM, mps: null, maxAttempts: 2 },
      },
    });
    // The first try is refused for rate; the retry waits 3 s, long enough for the STOP to arrive first.
    gw.sim.setFaults('telnyx', { script: [{ status: 429, retryAfterSeconds: 3 }] });
    await toTelnyx(TO, 'Movie tonight?', [OTHER, THIRD]);
    const queued = await eventually(
      async () => (await gw.store.listMessages({ direction: 'outbound' }, { limit: 1 })).data[0] ?? null,
    );
    const waiting = await gw.waitFor(queued.id, (m) => m.attempts.length === 1);
    expect(waiting).toMatchObject({ cc: [OTHER, THIRD], attempts: [{ outcome: 'retry' }] });
    await toTelnyx(OTHER, 'STOP');
    const [sent] = await gw.sim.waitForMessages(1, 10_000);
    expect(sent).toMatchObject({ to: TO, cc: [THIRD] });
    expect(await gw.waitForStatus(waiting.id, 'delivered', 10_000)).toMatchObject({ cc: [THIRD] });
  });

  it("sends an app's reply to a group message to the whole group", async () => {
    const OTHERS = ['+14155550177', '+14155550178'];
    app = await TestApp.start();
    app.answer(() => ({ body: { reply: { body: 'From the app, to all' } } }));
    gw = await startSendGateway({
      config: config(),
      env: {
        APP_WEBHOOK_URL: `${app.url}/hook`,
        APP_WEBHOOK_SECRET: newSecret(),
        // The app runs on loopback (allowed explicitly once callback targets are checked).
        CALLBACK_ALLOWED_NETWORKS: '127.0.0.1/32',
      },
    });
    await gw.sim.injectInbound({
      provider: 'telnyx',
      from: TO,
      to: TELNYX_FROM,
      cc: OTHERS,
      body: 'Who is in?',
      webhookUrl: `${gw.base}/webhooks`,
    });
    const [received] = (await app.waitFor(1)).map((r) => JSON.parse(r.body) as { data: { cc: string[] } });
    expect(received!.data.cc).toEqual(OTHERS);
    const [sent] = await gw.sim.waitForMessages(1);
    expect(sent).toMatchObject({ from: TELNYX_FROM, to: TO, cc: OTHERS, body: 'From the app, to all' });
  });
});
