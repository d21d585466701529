import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { telnyxKeys, telnyxReceived } from '../helpers/carriers.js';
import { API_KEY, json, startGateway, type TestGateway } from '../helpers/gateway.js';

// JSON can carry a UTF-16 surrogate without its pair ("\ud800"); UTF-8 cannot. The send API refuses one; a
// carrier's verified message is stored with U+FFFD in its place. Either way the database holds only UTF-8.

const dir = mkdtempSync(join(tmpdir(), 'switchboard-surrogates-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

/** JSON.stringify writes a lone surrogate as its escape, exactly as a client would send it. */
const post = (path: string, body: unknown) =>
  fetch(gw!.base + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** The bytes SQLite holds for every message body, in hex. */
function storedBodies(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT hex(body) AS hex FROM messages ORDER BY id').all() as { hex: string }[]).map(
      (r) => r.hex,
    );
  } finally {
    db.close();
  }
}

describe('a lone UTF-16 surrogate', () => {
  it('in a send request is refused with 400 invalid_request, whichever text field holds it', async () => {
    const path = join(dir, 'send.db');
    gw = await startGateway({ DATABASE_URL: path, TWILIO_FROM: '+14155550100' });
    const cases: [string, Record<string, unknown>][] = [
      ['body', { to: '+14155550123', body: 'half an emoji: \ud83d' }],
      ['body', { to: '+14155550123', body: '\udc00 a low one first' }],
      ['mediaUrls', { to: '+14155550123', mediaUrls: ['https://example.com/\ud800.png'] }],
    ];
    for (const [field, request] of cases) {
      const res = await post('/v1/messages', request);
      expect(res.status, JSON.stringify(request)).toBe(400);
      const { error } = await json(res);
      expect(error.code).toBe('invalid_request');
      expect(error.message).toContain(`${field} is not valid Unicode`);
    }
    // In a batch, the bad item alone.
    const batch = await post('/v1/messages/batch', {
      messages: [
        { to: '+14155550123', body: 'fine 😀' },
        { to: '+14155550123', body: 'broken \ud800' },
      ],
    });
    expect(batch.status).toBe(207);
    const { data } = await json(batch);
    expect(data.map((d: { status: number }) => d.status)).toEqual([202, 400]);
    expect(data[1].error.code).toBe('invalid_request');

    // A well-formed pair is just an emoji; only it was stored, as UTF-8.
    expect(storedBodies(path)).toEqual([Buffer.from('fine 😀').toString('hex').toUpperCase()]);
  });

  it('in a verified carrier message is stored as U+FFFD, never refused', async () => {
    const path = join(dir, 'inbound.db');
    const keys = telnyxKeys();
    gw = await startGateway({ DATABASE_URL: path, TELNYX_PUBLIC_KEY: keys.publicKey });
    const res = await gw.postTelnyx(keys, telnyxReceived({ text: 'caf\u00e9 \ud800 ok \ud83d\ude00' }));
    expect(res.status).toBe(200);
    const [message] = (await gw.store.listMessages({}, { limit: 10 })).data;
    expect(message?.body).toBe('caf\u00e9 \ufffd ok \ud83d\ude00');
    expect(storedBodies(path)).toEqual([
      Buffer.from('caf\u00e9 \ufffd ok \ud83d\ude00').toString('hex').toUpperCase(),
    ]);
  });
});
