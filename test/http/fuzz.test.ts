import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formBody, telnyxKeys, telnyxReceived, twilioInbound, twilioSignature } from '../helpers/carriers.js';
import { countMessages, startGateway, type TestGateway, json } from '../helpers/gateway.js';

const keys = telnyxKeys();
let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ TELNYX_PUBLIC_KEY: keys.publicKey });
});
afterAll(async () => gw.close());

const printable = (maxLength: number) => fc.stringMatching(new RegExp(`^[\\x20-\\x7e]{0,${maxLength}}$`));

const contentType = fc.constantFrom(
  'application/x-www-form-urlencoded',
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded; charset=latin1',
);

// Bodies from plain noise to near-misses of real carrier payloads.
const body = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.json({ maxDepth: 4 }),
  fc.anything({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc
    .dictionary(printable(20), fc.string({ maxLength: 40 }))
    .map((d) => formBody({ ...twilioInbound(), ...d })),
  fc.dictionary(printable(20), fc.string({ maxLength: 40 })).map((d) => formBody(d)),
  fc
    .record({ extra: fc.anything({ maxDepth: 2 }) })
    .map((r) => JSON.stringify({ ...telnyxReceived(), ...r })),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
);

const headers = fc.record(
  {
    'x-twilio-signature': printable(40),
    'telnyx-signature-ed25519': fc.oneof(printable(100), fc.constant(Buffer.alloc(64, 7).toString('base64'))),
    'telnyx-timestamp': fc.oneof(printable(12), fc.constant(String(Math.floor(Date.now() / 1000)))),
    'x-forwarded-host': printable(30),
    'x-forwarded-proto': fc.constantFrom('http', 'https', 'gopher', ''),
  },
  { requiredKeys: [] },
);

const path = fc.constantFrom(
  '/webhooks',
  '/webhooks/twilio',
  '/webhooks/telnyx',
  '/webhooks?x=%ZZ',
  '/webhooks/../webhooks',
);

describe('fuzzing /webhooks', () => {
  it('answers random unverified requests with a 4xx, never a 5xx or a stored row', async () => {
    await fc.assert(
      fc.asyncProperty(path, contentType, headers, body, async (p, ct, h, b) => {
        const res = await gw.post(p, { headers: { 'content-type': ct, ...h }, body: b });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        const answer = await json(res);
        expect(answer.error.code).toMatch(/^[a-z_]+$/);
      }),
      { numRuns: 250 },
    );
    expect(await countMessages(gw)).toBe(0);
    expect((await fetch(`${gw.base}/healthz`)).status).toBe(200);
  });

  it('never answers 5xx to correctly signed payloads of random shape', async () => {
    const telnyxLike = fc.record({
      data: fc.record(
        {
          event_type: fc.constantFrom('message.received', 'message.sent', 'message.finalized', 'other'),
          id: fc.oneof(fc.uuid(), fc.integer()),
          record_type: fc.constant('event'),
          occurred_at: fc.oneof(
            fc.string(),
            fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          ),
          payload: fc.record(
            {
              id: fc.oneof(fc.uuid(), fc.constant(null)),
              text: fc.oneof(fc.string(), fc.integer()),
              from: fc.oneof(fc.record({ phone_number: fc.string() }), fc.string()),
              to: fc.array(
                fc.record({
                  phone_number: fc.oneof(fc.string(), fc.constant('+13125550002')),
                  status: fc.string(),
                }),
                { maxLength: 4 },
              ),
              media: fc.array(fc.record({ url: fc.anything(), content_type: fc.anything() }), {
                maxLength: 3,
              }),
              errors: fc.array(fc.record({ code: fc.anything(), title: fc.anything() }), { maxLength: 2 }),
              parts: fc.anything(),
            },
            { requiredKeys: [] },
          ),
        },
        { requiredKeys: ['event_type'] },
      ),
    });
    await fc.assert(
      fc.asyncProperty(telnyxLike, async (payload) => {
        const res = await gw.postTelnyx(keys, payload);
        expect([200, 400]).toContain(res.status);
      }),
      { numRuns: 60 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(printable(16), fc.string({ maxLength: 30 })),
        fc.boolean(),
        async (extra, keepBase) => {
          const params = keepBase ? { ...twilioInbound(), ...extra } : extra;
          const signature = twilioSignature(`${gw.base}/webhooks/twilio`, params);
          const res = await gw.post('/webhooks/twilio', {
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
            body: formBody(params),
          });
          expect([200, 400, 403]).toContain(res.status);
        },
      ),
      { numRuns: 60 },
    );
  });
});
