import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newApiKey, type Scope } from '../../src/core/api-keys.js';
import { SqliteStore } from '../../src/db/sqlite/sqlite.js';
import { newSecret } from '../helpers/app-server.js';
import { API_KEY, json } from '../helpers/gateway.js';
import { fakeResolver } from '../helpers/resolver.js';
import { startSendGateway, TWILIO_FROM, type SendGateway } from '../helpers/send-gateway.js';

// Idempotency keys belong to the API key that used them (issue 11, item 7), and compare the request as it will be
// sent, not as it was written (item 23).

let gw: SendGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const TO = '+14155550123';
const ENV_KEY_A = 'environment-key-a-0123456789';
const ENV_KEY_B = 'environment-key-b-0123456789';

async function createKey(g: SendGateway, scopes: Scope[] = ['send', 'read']): Promise<string> {
  const { key, record } = newApiKey(`test ${scopes.join('+')}`, scopes, null, Date.now());
  await g.store.createApiKey(record);
  return key;
}

function sendAs(g: SendGateway, key: string, body: unknown, headers: Record<string, string> = {}, path = '') {
  return g.send(body, { authorization: `Bearer ${key}`, ...headers }, `/v1/messages${path}`);
}

async function outboundCount(g: SendGateway): Promise<number> {
  return (await g.store.listMessages({ direction: 'outbound' }, { limit: 200 })).data.length;
}

describe('idempotency keys per API key', () => {
  it('gives two API keys using the same Idempotency-Key two messages, and each its own replay', async () => {
    gw = await startSendGateway({ sim: { callbacks: { enabled: false } } });
    const a = await createKey(gw);
    const b = API_KEY; // a SWITCHBOARD_API_KEYS entry: environment keys have their own namespace too
    const key = { 'idempotency-key': 'order-42' };
    const request = { to: TO, body: 'Your order shipped' };

    const firstA = await sendAs(gw, a, request, key);
    const firstB = await sendAs(gw, b, request, key);
    expect([firstA.status, firstB.status]).toEqual([202, 202]);
    // B did not get A's message back: a message of its own, not a replay.
    expect(firstB.headers.get('idempotent-replayed')).toBeNull();
    const [messageA, messageB] = [await json(firstA), await json(firstB)];
    expect(messageB.id).not.toBe(messageA.id);

    const againA = await sendAs(gw, a, request, key);
    const againB = await sendAs(gw, b, request, key);
    expect(againA.headers.get('idempotent-replayed')).toBe('true');
    expect(againB.headers.get('idempotent-replayed')).toBe('true');
    expect((await json(againA)).id).toBe(messageA.id);
    expect((await json(againB)).id).toBe(messageB.id);

    // A third key using the same key with another request is not blocked by theirs; a key's own conflict stays.
    const c = await createKey(gw, ['send']);
    expect((await sendAs(gw, c, { to: TO, body: 'Something else' }, key)).status).toBe(202);
    const conflict = await sendAs(gw, a, { to: TO, body: 'Something else' }, key);
    expect(conflict.status).toBe(409);
    const error = (await json(conflict)).error;
    expect(error.code).toBe('idempotency_conflict');
    expect(error.message).toContain(messageA.id);
    expect(await outboundCount(gw)).toBe(3);
  });

  it("scopes a batch's Idempotency-Key header and its items' own keys to the API key", async () => {
    gw = await startSendGateway({ sim: { callbacks: { enabled: false } } });
    const a = await createKey(gw);
    const b = await createKey(gw);
    const batch = {
      messages: [
        { to: TO, body: 'one' },
        { to: TO, body: 'two', idempotencyKey: 'item-2' },
      ],
    };
    const header = { 'idempotency-key': 'nightly' };

    const first = await json(await sendAs(gw, a, batch, header, '/batch'));
    const other = await json(await sendAs(gw, b, batch, header, '/batch'));
    expect(first.accepted).toBe(2);
    expect(other.accepted).toBe(2);
    expect(other.data.map((d: { replayed: boolean }) => d.replayed)).toEqual([false, false]);
    const ids = (r: { data: { message: { id: string } }[] }) => r.data.map((d) => d.message.id);
    expect(ids(other).filter((id) => ids(first).includes(id))).toEqual([]);

    // Each key's retry replays its own messages.
    const retryA = await json(await sendAs(gw, a, batch, header, '/batch'));
    const retryB = await json(await sendAs(gw, b, batch, header, '/batch'));
    expect(ids(retryA)).toEqual(ids(first));
    expect(ids(retryB)).toEqual(ids(other));
    // An item's own key is the same namespace as a single send's header, per API key.
    const single = await sendAs(gw, b, { to: TO, body: 'two' }, { 'idempotency-key': 'item-2' });
    expect((await json(single)).id).toBe(other.data[1].message.id);
    const blocked = await sendAs(gw, a, { to: TO, body: 'not two' }, { 'idempotency-key': 'item-2' });
    expect(blocked.status).toBe(409);
    expect(await outboundCount(gw)).toBe(4);
  });

  it('keeps an environment key’s namespace when SWITCHBOARD_API_KEYS is reordered or grows', async () => {
    const database = join(mkdtempSync(join(tmpdir(), 'switchboard-idem-')), 'gateway.db');
    const sim = { callbacks: { enabled: false } };
    const key = { 'idempotency-key': 'invoice-7' };
    const request = { to: TO, body: 'Invoice 7 is ready' };
    gw = await startSendGateway({
      sim,
      env: { DATABASE_URL: database, SWITCHBOARD_API_KEYS: `${ENV_KEY_A},${ENV_KEY_B}` },
    });
    const fromB = await json(await sendAs(gw, ENV_KEY_B, request, key));
    await gw.close();

    // B is now first (and A third): its messages and keys are still its own, A's still not.
    gw = await startSendGateway({
      sim,
      env: { DATABASE_URL: database, SWITCHBOARD_API_KEYS: `${ENV_KEY_B},${API_KEY},${ENV_KEY_A}` },
    });
    const againB = await sendAs(gw, ENV_KEY_B, request, key);
    expect(againB.headers.get('idempotent-replayed')).toBe('true');
    expect((await json(againB)).id).toBe(fromB.id);
    const fromA = await sendAs(gw, ENV_KEY_A, request, key);
    expect(fromA.headers.get('idempotent-replayed')).toBeNull();
    expect((await json(fromA)).id).not.toBe(fromB.id);
  });

  it('matches nothing against keys stored before they were per API key (neither a replay nor a 409)', async () => {
    const database = join(mkdtempSync(join(tmpdir(), 'switchboard-idem-')), 'gateway.db');
    // A row as the previous version wrote it for `Idempotency-Key: legacy-1` (one namespace for every key).
    const old = await SqliteStore.open({ path: database });
    const [legacy] = await old.enqueue([
      {
        provider: 'twilio',
        channel: 'sms',
        from: TWILIO_FROM,
        to: TO,
        body: 'sent before the upgrade',
        media: [],
        cc: [],
        segments: 1,
        encoding: 'GSM-7',
        statusCallback: null,
        idempotencyKey: 'api:legacy-1',
        requestHash: 'whatever-the-old-hash-was',
        createdBy: null,
      },
    ]);
    await old.close();
    gw = await startSendGateway({ sim: { callbacks: { enabled: false } }, env: { DATABASE_URL: database } });
    const res = await gw.send({ to: TO, body: 'sent after the upgrade' }, { 'idempotency-key': 'legacy-1' });
    expect(res.status).toBe(202);
    expect(res.headers.get('idempotent-replayed')).toBeNull();
    expect((await json(res)).id).not.toBe(legacy?.outcome === 'stored' ? legacy.message.id : '');
  });
});

describe('an idempotency key compares the normalized request', () => {
  it('takes the same number written two ways as the same request, not a 409', async () => {
    gw = await startSendGateway({ sim: { callbacks: { enabled: false } } });
    const key = { 'idempotency-key': 'written-twice' };
    const first = await gw.send(
      {
        to: '+1 415 555 0123',
        from: '+1 (415) 555-0100',
        body: 'x',
        mediaUrls: ['https://Example.COM/a.png'],
      },
      key,
    );
    expect(first.status).toBe(202);
    const again = await gw.send(
      { to: '+14155550123', from: TWILIO_FROM, body: 'x', mediaUrls: ['https://example.com/a.png'] },
      key,
    );
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await json(again)).id).toBe((await json(first)).id);
    // Normalization does not make different requests equal.
    const other = await gw.send({ to: '+14155550124', from: TWILIO_FROM, body: 'x' }, key);
    expect(other.status).toBe(409);
    const otherCarrier = await gw.send(
      {
        to: '+14155550123',
        from: TWILIO_FROM,
        body: 'x',
        mediaUrls: ['https://example.com/a.png'],
        provider: 'telnyx',
      },
      key,
    );
    expect(otherCarrier.status).toBe(409);
    expect(await outboundCount(gw)).toBe(1);
  });

  it('matches a batch retried with its numbers written another way item for item', async () => {
    gw = await startSendGateway({ sim: { callbacks: { enabled: false } } });
    const header = { 'idempotency-key': 'batch-written-twice' };
    const first = await json(
      await gw.send(
        {
          messages: [
            { to: '+1 415-555-0123', body: 'a' },
            { to: TO, body: 'a' },
          ],
        },
        header,
        '/v1/messages/batch',
      ),
    );
    const retry = await json(
      await gw.send(
        {
          messages: [
            { to: TO, body: 'a' },
            { to: '+1 (415) 555 0123', body: 'a' },
          ],
        },
        header,
        '/v1/messages/batch',
      ),
    );
    // Two identical messages (once normalized) are two messages, and a retry replays both, whatever the writing.
    expect(new Set(first.data.map((d: { message: { id: string } }) => d.message.id)).size).toBe(2);
    expect(retry.data.map((d: { replayed: boolean }) => d.replayed)).toEqual([true, true]);
    expect(retry.data.map((d: { message: { id: string } }) => d.message.id)).toEqual(
      first.data.map((d: { message: { id: string } }) => d.message.id),
    );
    expect(await outboundCount(gw)).toBe(2);
  });
});

describe("a retry is matched to its message before its statusCallback's host is looked up again", () => {
  // The callback's name resolves to a public address when the request is first sent, to a private one afterwards
  // (DNS changed, or rebinding): the retry is the same request, already queued, and is answered as a replay.
  const CALLBACK = 'https://hooks.example.com/status';
  const start = () =>
    startSendGateway({
      sim: { callbacks: { enabled: false } },
      env: { APP_WEBHOOK_SECRET: newSecret() },
      deps: { resolveHost: fakeResolver({ 'hooks.example.com': [['93.184.216.34'], ['10.0.0.5']] }) },
    });

  it('replays a single send (202, Idempotent-Replayed) and still judges a new key or a conflict', async () => {
    gw = await start();
    const request = { to: TO, body: 'Your code is ready', statusCallback: CALLBACK };
    const first = await gw.send(request, { 'idempotency-key': 'k1' });
    expect(first.status).toBe(202);
    const retry = await gw.send(request, { 'idempotency-key': 'k1' });
    expect(retry.status, JSON.stringify(await json(retry.clone()))).toBe(202);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect((await json(retry)).id).toBe((await json(first)).id);
    // The same key for another request is still a conflict, not a refused URL.
    const conflict = await gw.send({ ...request, body: 'Another code' }, { 'idempotency-key': 'k1' });
    expect(conflict.status).toBe(409);
    // A new key is a new request: its URL is checked, and now refused.
    const fresh = await gw.send(request, { 'idempotency-key': 'k2' });
    expect(fresh.status).toBe(422);
    expect((await json(fresh)).error.code).toBe('invalid_callback_url');
    expect(await outboundCount(gw)).toBe(1);
  });

  it("replays a batch's items under their keys, and checks the new ones", async () => {
    gw = await start();
    const batch = (n: number) => ({
      messages: Array.from({ length: n }, (_, i) => ({
        to: TO,
        body: `item ${i}`,
        statusCallback: CALLBACK,
      })),
    });
    const header = { 'idempotency-key': 'nightly' };
    const first = await json(await gw.send(batch(1), header, '/v1/messages/batch'));
    expect(first.accepted).toBe(1);
    // Retried with one more item: the first is a replay, the new one is judged (and refused) on its own.
    const retry = await json(await gw.send(batch(2), header, '/v1/messages/batch'));
    expect(retry.data.map((d: { status: number }) => d.status)).toEqual([202, 422]);
    expect(retry.data[0]).toMatchObject({ replayed: true, message: { id: first.data[0].message.id } });
    expect(retry.data[1].error.code).toBe('invalid_callback_url');
  });
});
