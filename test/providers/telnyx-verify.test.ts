import fc from 'fast-check';
import nacl from 'tweetnacl';
import { TelnyxWebhook } from 'telnyx/lib/webhooks';
import { describe, expect, it } from 'vitest';
import { TelnyxSignatureVerifier } from '../../src/providers/telnyx/verify.js';
import { telnyxKeys } from '../helpers/carriers.js';

const NOW = 1_705_350_000_000;
const TS = String(NOW / 1000);

describe('TelnyxSignatureVerifier agrees with tweetnacl (the independent reference)', () => {
  it('on random keys, bodies and tampered signatures', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 0, maxLength: 512 }),
        fc.integer({ min: 0, max: 63 }),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        async (seed, bodyBytes, flipAt, flipWith, tamper) => {
          const pair = nacl.sign.keyPair.fromSeed(seed);
          const body = Buffer.from(bodyBytes);
          const signed = Buffer.concat([Buffer.from(`${TS}|`), body]);
          const signature = nacl.sign.detached(signed, pair.secretKey);
          if (tamper) signature[flipAt] = (signature[flipAt] as number) ^ flipWith;
          const reference = nacl.sign.detached.verify(signed, signature, pair.publicKey);
          const verifier = new TelnyxSignatureVerifier(
            [Buffer.from(pair.publicKey).toString('base64')],
            () => NOW,
          );
          const ours = await verifier.verify(Buffer.from(signature).toString('base64'), TS, body);
          expect(ours.ok).toBe(reference);
          expect(ours.ok).toBe(!tamper);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('rejects a valid signature over a tampered body, and a signature by another key', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 200 }),
        fc.string({ maxLength: 200 }),
        async (body, other) => {
          fc.pre(body !== other);
          const keys = telnyxKeys();
          const verifier = new TelnyxSignatureVerifier([keys.publicKey], () => NOW);
          expect((await verifier.verify(keys.sign(body, TS), TS, Buffer.from(other))).ok).toBe(false);
          expect((await verifier.verify(telnyxKeys().sign(body, TS), TS, Buffer.from(body))).ok).toBe(false);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("TelnyxSignatureVerifier agrees with the Telnyx SDK's verifier", () => {
  it('on random UTF-8 bodies, valid and tampered', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), fc.boolean(), async (body, tamper) => {
        const keys = telnyxKeys();
        const nowSeconds = String(Math.floor(Date.now() / 1000));
        let signature = keys.sign(body, nowSeconds);
        if (tamper) signature = keys.sign(`${body}x`, nowSeconds);
        const headers = { 'telnyx-signature-ed25519': signature, 'telnyx-timestamp': nowSeconds };
        const sdk = await new TelnyxWebhook(keys.publicKey).verify(body, headers).then(
          () => true,
          () => false,
        );
        const ours = (
          await new TelnyxSignatureVerifier([keys.publicKey]).verify(signature, nowSeconds, Buffer.from(body))
        ).ok;
        expect(ours).toBe(sdk);
      }),
      { numRuns: 100 },
    );
  });
});

describe('TelnyxSignatureVerifier freshness and headers', () => {
  const keys = telnyxKeys();
  const body = Buffer.from('{"data":{}}');
  const verifier = new TelnyxSignatureVerifier([keys.publicKey], () => NOW);
  const at = (offsetSeconds: number) => String(NOW / 1000 + offsetSeconds);

  it('accepts timestamps up to 300 s away in either direction and rejects beyond', async () => {
    for (const offset of [-300, -1, 0, 1, 300])
      expect((await verifier.verify(keys.sign(body, at(offset)), at(offset), body)).ok).toBe(true);
    for (const offset of [-301, 301, -86_400]) {
      expect(await verifier.verify(keys.sign(body, at(offset)), at(offset), body)).toMatchObject({
        code: 'timestamp_out_of_range',
      });
    }
  });

  it('reports missing or malformed headers with distinct codes', async () => {
    expect(await verifier.verify(undefined, TS, body)).toMatchObject({ code: 'signature_missing' });
    expect(await verifier.verify(keys.sign(body, TS), undefined, body)).toMatchObject({
      code: 'timestamp_invalid',
    });
    expect(await verifier.verify(keys.sign(body, TS), '17e8', body)).toMatchObject({
      code: 'timestamp_invalid',
    });
    expect(await verifier.verify('not base64!', TS, body)).toMatchObject({ code: 'signature_invalid' });
    expect(await verifier.verify(Buffer.alloc(32).toString('base64'), TS, body)).toMatchObject({
      code: 'signature_invalid',
    });
  });

  it('accepts a signature by any configured key (rotation)', async () => {
    const next = telnyxKeys();
    const rotating = new TelnyxSignatureVerifier([keys.publicKey, next.publicKey], () => NOW);
    expect((await rotating.verify(next.sign(body, TS), TS, body)).ok).toBe(true);
    expect((await rotating.verify(keys.sign(body, TS), TS, body)).ok).toBe(true);
  });
});
