import { APIConnectionError, APIConnectionTimeoutError, InternalServerError, RateLimitError } from 'telnyx';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderSimulator } from '../../src/simulator/simulator.js';
import { rejection, telnyxClient, twilioClient } from './helpers.js';

// The clock the rate limit reads is frozen and moved by hand, so the limit is exact and no test waits on real time.
let clock = Date.now();
let sim: ProviderSimulator;

beforeAll(async () => {
  sim = await ProviderSimulator.start({ now: () => clock, callbacks: { enabled: false } });
});

afterAll(async () => {
  await sim.close();
});

beforeEach(() => {
  sim.resetFaults();
  sim.resetRecords();
});

const twilioSend = (to = '+14155550123', body = 'x') =>
  twilioClient(sim).messages.create({ to, from: '+14155550100', body });
const telnyxSend = (to = '+14155550123', text = 'x', media_urls?: string[]) =>
  telnyxClient(sim).messages.send({ to, from: '+14155550100', text, ...(media_urls ? { media_urls } : {}) });

describe('sender throughput (mps): queued by the carrier, not refused', () => {
  const waits = (provider: 'twilio' | 'telnyx') =>
    sim.messages(provider).map((m) => (m.departsAt === null ? null : m.departsAt - m.acceptedAt));

  it('Twilio: one second of segments goes at once, faster ones wait their turn, a full queue answers 21611', async () => {
    sim.setFaults('twilio', { mps: 4, maxQueueSeconds: 0.75 });
    // 4 segments: the whole second's worth, at once.
    const long = await twilioSend('+14155550123', 'x'.repeat(600));
    expect(long.numSegments).toBe('4');
    // Each further segment waits a quarter of a second more; a queue of 0.75 s takes three.
    for (let i = 0; i < 3; i++) expect((await twilioSend()).status).toBe('queued');
    const full = await rejection(twilioSend());
    expect(full).toMatchObject({
      status: 400,
      code: 21611,
      message: "This 'From' number has exceeded the maximum number of queued messages",
      moreInfo: 'https://www.twilio.com/docs/errors/21611',
    });
    expect(waits('twilio')).toEqual([0, 250, 500, 750]);
    expect(sim.stats('twilio')).toEqual({
      requests: 5,
      accepted: 4,
      rateLimited: 0,
      errors: 1,
      timeouts: 0,
      queued: 3,
      queueFull: 1,
      expired: 0,
    });
    // Another sender has a queue of its own.
    await twilioClient(sim).messages.create({ to: '+14155550123', from: '+14155550199', body: 'x' });
    expect(waits('twilio')[4]).toBe(0);
    // The refused message took no place: a quarter of a second later there is room for one.
    clock += 250;
    await twilioSend();
    expect(waits('twilio')[5]).toBe(750);
    await expect(twilioSend()).rejects.toMatchObject({ code: 21611 });
  });

  it('Telnyx: an MMS counts one segment; a full queue answers 429 / 40318', async () => {
    sim.setFaults('telnyx', { mps: 2, maxQueueSeconds: 1 });
    await telnyxSend('+14155550123', 'x'.repeat(400), ['https://example.com/a.png']);
    await telnyxSend();
    const queued = await telnyxSend();
    expect(queued.data?.to?.[0]?.status).toBe('queued');
    await telnyxSend();
    const full = await rejection(telnyxSend());
    expect(full).toBeInstanceOf(RateLimitError);
    expect(full.error).toMatchObject({ errors: [{ code: '40318', title: 'Message queue full' }] });
    expect(waits('telnyx')).toEqual([0, 0, 500, 1000]);
    expect(sim.stats('telnyx')).toMatchObject({ accepted: 4, rateLimited: 1, queued: 2, queueFull: 1 });
  });

  it('sends a message larger than a second of segments at once, and makes the next ones wait out the debt', async () => {
    sim.setFaults('twilio', { mps: 1 });
    await twilioSend('+14155550123', 'x'.repeat(400));
    clock += 1_000;
    await twilioSend();
    // 3 segments at 1 a second: the next one leaves 3 s after the first.
    expect(waits('twilio')).toEqual([0, 2_000]);
  });

  it('mps: null lifts the limit', async () => {
    sim.setFaults('telnyx', { mps: 1 });
    await telnyxSend();
    await telnyxSend();
    sim.setFaults('telnyx', { mps: null });
    await telnyxSend();
    await telnyxSend();
    expect(waits('telnyx')).toEqual([0, 1_000, 0, 0]);
    expect(sim.stats('telnyx').queued).toBe(1);
  });
});

describe('API request rate (apiRequestsPerSecond)', () => {
  it('Twilio: counts requests, not segments; beyond it 429 / 20429 without Retry-After, until it refills', async () => {
    sim.setFaults('twilio', { apiRequestsPerSecond: 2 });
    await twilioSend('+14155550123', 'x'.repeat(600));
    await twilioSend();
    const limited = await rejection(twilioSend());
    expect(limited).toMatchObject({
      status: 429,
      code: 20429,
      message: 'Too Many Requests',
      moreInfo: 'https://www.twilio.com/docs/errors/20429',
      retryAfterMs: null,
    });
    // A refused request took nothing: half a second refills exactly one.
    clock += 500;
    await twilioSend();
    await expect(twilioSend()).rejects.toMatchObject({ status: 429 });
    expect(sim.stats('twilio')).toMatchObject({ requests: 5, accepted: 3, rateLimited: 2, queued: 0 });
  });

  it('Telnyx: 429 / 10011 with x-ratelimit-* headers and no Retry-After', async () => {
    sim.setFaults('telnyx', { apiRequestsPerSecond: 1 });
    await telnyxSend();
    const err = await rejection(telnyxSend());
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err.error).toMatchObject({ errors: [{ code: '10011', title: 'Too many requests' }] });
    const headers = err.headers as Headers;
    expect(headers.get('x-ratelimit-reset')).toBe('1');
    expect(headers.get('x-ratelimit-limit')).toBe('1');
    expect(headers.get('x-ratelimit-remaining')).toBe('0');
    expect(headers.get('retry-after')).toBeNull();
    clock += 1_000;
    await telnyxSend();
  });
});

describe('scripted faults', () => {
  it('answers the script one entry per request, in order, before anything else, with the carrier codes', async () => {
    sim.setFaults('twilio', {
      authFailure: true,
      script: [{ status: 500 }, { status: 429, retryAfterSeconds: 7 }, { status: 400, code: '21610' }],
    });
    await expect(twilioSend()).rejects.toMatchObject({ status: 500, code: 20500 });
    await expect(twilioSend()).rejects.toMatchObject({ status: 429, code: 20429, retryAfterMs: 7_000 });
    await expect(twilioSend()).rejects.toMatchObject({
      status: 400,
      code: 21610,
      message: 'Attempt to send to unsubscribed recipient',
    });
    // The script is used up: the standing fault applies again.
    await expect(twilioSend()).rejects.toMatchObject({ status: 401, code: 20003 });
    expect(sim.faults('twilio').script).toEqual([]);
  });

  it('Telnyx: a scripted 429 carries x-ratelimit-reset (1 unless given), a 503 the generic error', async () => {
    sim.setFaults('telnyx', {
      script: [{ status: 429 }, { status: 429, retryAfterSeconds: 5 }, { status: 503 }],
    });
    const first = await rejection(telnyxSend());
    expect((first.headers as Headers).get('x-ratelimit-reset')).toBe('1');
    const second = await rejection(telnyxSend());
    expect((second.headers as Headers).get('x-ratelimit-reset')).toBe('5');
    expect((second.headers as Headers).get('retry-after')).toBeNull();
    const third = await rejection(telnyxSend());
    expect(third).toBeInstanceOf(InternalServerError);
    expect(third).toMatchObject({ status: 503, error: { errors: [{ code: '10007' }] } });
    await telnyxSend();
  });
});

describe('recipient errors at send time', () => {
  it('Twilio answers 400 with the code for that number', async () => {
    sim.setFaults('twilio', { recipientErrors: { '+15005550001': '21211', '+15005550004': '21610' } });
    await expect(twilioSend('+15005550001')).rejects.toMatchObject({
      status: 400,
      code: 21211,
      message: "The 'To' number +15005550001 is not a valid phone number.",
    });
    await expect(twilioSend('+15005550004')).rejects.toMatchObject({ status: 400, code: 21610 });
    await twilioSend('+15005550009');
  });

  it('Telnyx answers with the documented status: 40300 / 40310 -> 400, 40318 -> 429', async () => {
    sim.setFaults('telnyx', {
      recipientErrors: { '+14155550001': '40300', '+14155550002': '40310', '+14155550003': '40318' },
    });
    const stop = await rejection(telnyxSend('+14155550001'));
    expect(stop).toMatchObject({
      status: 400,
      error: { errors: [{ code: '40300', title: 'Blocked due to STOP message' }] },
    });
    await expect(telnyxSend('+14155550002')).rejects.toMatchObject({ status: 400 });
    const full = await rejection(telnyxSend('+14155550003'));
    expect(full).toMatchObject({ status: 429, error: { errors: [{ code: '40318' }] } });
    expect((full.headers as Headers).get('x-ratelimit-reset')).toBe('1');
  });
});

describe('standing faults', () => {
  it('authFailure answers 401 with the carrier body', async () => {
    sim.setFaults('twilio', { authFailure: true });
    sim.setFaults('telnyx', { authFailure: true });
    await expect(twilioSend()).rejects.toMatchObject({ status: 401, code: 20003 });
    await expect(telnyxSend()).rejects.toMatchObject({ status: 401, error: { errors: [{ code: '10009' }] } });
  });

  it('down answers 503', async () => {
    sim.setFaults('twilio', { down: true });
    sim.setFaults('telnyx', { down: true });
    await expect(twilioSend()).rejects.toMatchObject({ status: 503, code: 20503 });
    await expect(telnyxSend()).rejects.toMatchObject({ status: 503 });
    sim.setFaults('twilio', { down: false });
    await twilioSend();
  });

  it('errorRate fails a seeded, repeatable share of requests with 500', async () => {
    const run = async () => {
      sim.resetFaults('telnyx');
      sim.setFaults('telnyx', { errorRate: 0.5 });
      const outcomes: string[] = [];
      for (let i = 0; i < 24; i++) {
        outcomes.push(
          await telnyxSend().then(
            () => 'ok',
            (err: { status?: number }) => String(err.status),
          ),
        );
      }
      return outcomes;
    };
    const first = await run();
    expect(new Set(first)).toEqual(new Set(['ok', '500']));
    expect(await run()).toEqual(first);
  });

  it('latencyMs delays the answer', async () => {
    sim.setFaults('twilio', { latencyMs: 150 });
    const started = performance.now();
    await twilioSend();
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('timeoutRate holds the request until the client gives up', async () => {
    sim.setFaults('twilio', { timeoutRate: 1 });
    sim.setFaults('telnyx', { timeoutRate: 1 });
    const twilioErr = await rejection(
      twilioClient(sim, 200).messages.create({ to: '+14155550123', from: '+1', body: 'x' }),
    );
    expect(String(twilioErr.message)).toMatch(/timeout/i);
    const telnyxErr = await rejection(
      telnyxClient(sim, 200).messages.send({ to: '+14155550123', from: '+1', text: 'x' }),
    );
    expect(telnyxErr).toBeInstanceOf(APIConnectionTimeoutError);
    expect(sim.stats('twilio').timeouts).toBe(1);
    expect(sim.stats('telnyx').timeouts).toBe(1);
    expect(sim.messages()).toEqual([]);
  });
});

describe('validation of faults', () => {
  it('refuses a malformed fault instead of ignoring it', () => {
    expect(() => sim.setFaults('twilio', { errorRate: 2 })).toThrow(TypeError);
    expect(() => sim.setFaults('twilio', { mps: -1 })).toThrow(TypeError);
    expect(() => sim.setFaults('twilio', { maxQueueSeconds: 0 })).toThrow(/maxQueueSeconds/);
    expect(() => sim.setFaults('twilio', { receiptUtcOffsetMinutes: 1_000 })).toThrow(
      /receiptUtcOffsetMinutes/,
    );
    expect(() => sim.setFaults('twilio', { script: [{ status: 200 }] })).toThrow(TypeError);
    expect(() => sim.setFaults('twilio', { typo: true } as unknown as { down: boolean })).toThrow(
      /unknown fault/,
    );
  });
});

describe('close()', () => {
  it('returns promptly while requests are held open, and the held clients see the connection end', async () => {
    const own = await ProviderSimulator.start({ callbacks: { enabled: false } });
    own.setFaults('telnyx', { timeoutRate: 1 });
    own.setFaults('twilio', { latencyMs: 60_000 });
    // Outcomes captured now: the promises reject during close(), before an expectation could attach.
    const settled = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (err: unknown) => err,
      );
    const held = settled(
      telnyxClient(own, 60_000).messages.send({ to: '+14155550123', from: '+1', text: 'x' }),
    );
    const delayed = settled(
      twilioClient(own, 60_000).messages.create({ to: '+14155550123', from: '+1', body: 'x' }),
    );
    const stillWaiting = settled(own.waitForMessages(5, 60_000));
    while (own.stats('telnyx').timeouts < 1 || own.stats('twilio').requests < 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const started = performance.now();
    await own.close();
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(await held).toBeInstanceOf(APIConnectionError);
    expect(await delayed).toMatchObject({ code: 'ECONNRESET' });
    expect(await stillWaiting).toMatchObject({ message: 'the simulator closed' });
  });
});
