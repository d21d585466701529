import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { newApiKey, type Scope } from '../../src/core/api-keys.js';
import { MAX_STREAMS_PER_KEY } from '../../src/http/dashboard.js';
import { API_KEY, startGateway, type TestGateway } from '../helpers/gateway.js';
import { until } from '../helpers/wait.js';

// The dashboard's sign-in is throttled per client address, and its live streams are capped per key (issue 11,
// item 10), over real HTTP.

const dir = mkdtempSync(join(tmpdir(), 'switchboard-streams-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

async function createKey(g: TestGateway, scopes: Scope[]): Promise<string> {
  const { key, record } = newApiKey(`test ${scopes.join('+')}`, scopes, null, Date.now());
  await g.store.createApiKey(record);
  return key;
}

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * A request from a chosen loopback address (Linux routes all of 127.0.0.0/8 to lo), so that tests can be several
 * clients. The body is read to its end.
 */
function call(
  g: TestGateway,
  method: string,
  path: string,
  options: { body?: unknown; from?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const url = new URL(path, g.base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method,
        localAddress: options.from ?? '127.0.0.1',
        headers: {
          ...(options.body !== undefined && { 'content-type': 'application/json' }),
          ...options.headers,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body === undefined ? undefined : JSON.stringify(options.body));
  });
}

const signIn = (g: TestGateway, key: string, from = '127.0.0.1') =>
  call(g, 'POST', '/dashboard/session', { body: { key }, from });

const WRONG_KEY = 'sb_0123456789ab_thisIsNotAKeyThisIsNotAKeyThisIsNotAKey12345';

describe('dashboard sign-in throttle', () => {
  it('behind TRUST_PROXY counts the address the proxy appended to X-Forwarded-For, not what the client wrote', async () => {
    gw = await startGateway({ TRUST_PROXY: 'true' });
    const via = (forwarded: string) =>
      call(gw!, 'POST', '/dashboard/session', {
        body: { key: WRONG_KEY },
        headers: { 'x-forwarded-for': forwarded },
      });
    // The client writes a new address of its own each time; the proxy appends the one it saw.
    for (let i = 0; i < 10; i++) expect((await via(`198.51.100.${i}, 203.0.113.7`)).status).toBe(401);
    expect((await via('198.51.100.99, 203.0.113.7')).status).toBe(429);
    // Another client behind the same proxy is not refused.
    expect((await via('203.0.113.8')).status).toBe(401);
  });

  it('without TRUST_PROXY ignores X-Forwarded-For (anyone could write it)', async () => {
    gw = await startGateway({ TRUST_PROXY: 'false', PUBLIC_BASE_URL: 'https://sms.example.com' });
    for (let i = 0; i < 10; i++) {
      const answer = await call(gw, 'POST', '/dashboard/session', {
        body: { key: WRONG_KEY },
        headers: { 'x-forwarded-for': `203.0.113.${i}` },
      });
      expect(answer.status).toBe(401);
    }
    expect((await signIn(gw, WRONG_KEY)).status).toBe(429);
  });

  it('refuses an address after 10 failed sign-ins with 429 and Retry-After, a correct key included', async () => {
    gw = await startGateway();
    for (let i = 0; i < 10; i++) expect((await signIn(gw, WRONG_KEY)).status).toBe(401);
    const refused = await signIn(gw, WRONG_KEY);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body).error).toMatchObject({
      code: 'too_many_sign_in_attempts',
      message: expect.stringMatching(/retry in \d+ s/),
    });
    // The window is 15 minutes from the first failure.
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
    // Even the right key: otherwise the refusal would tell which guesses are wrong.
    const right = await signIn(gw, API_KEY);
    expect(right.status).toBe(429);
    expect(right.headers['set-cookie']).toBeUndefined();
    // Another address is not held up.
    expect((await signIn(gw, API_KEY, '127.0.0.2')).status).toBe(200);
  });

  it('lets a correct key in once the window has passed, and counts only keys that are not valid', async () => {
    gw = await startGateway({}, { dashboard: { signInThrottle: { maxFailures: 3, windowMs: 1_500 } } });
    const sendOnly = await createKey(gw, ['send']);
    // A valid key without the read scope is refused (403) but is no guess: it does not count.
    for (let i = 0; i < 5; i++) expect((await signIn(gw, sendOnly)).status).toBe(403);
    for (let i = 0; i < 3; i++) expect((await signIn(gw, WRONG_KEY)).status).toBe(401);
    const blocked = await signIn(gw, API_KEY);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Refused attempts do not extend the window: the right key gets in once it has passed.
    let signedIn: Answer | null = null;
    await until(
      async () => {
        const res = await signIn(gw as TestGateway, API_KEY);
        if (res.status === 200) signedIn = res;
        else expect(res.status).toBe(429);
        return signedIn !== null;
      },
      10_000,
      'a sign-in after the window',
    );
    expect(String((signedIn as Answer | null)?.headers['set-cookie'])).toContain('switchboard_session=');
  });
});

interface Stream {
  status: number;
  body: () => string;
  close: () => void;
}

/** Opens GET /dashboard/stream with a bearer key and resolves once the answer's head has arrived. */
function openStream(g: TestGateway, key: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    let req: ClientRequest | null = null;
    req = httpRequest(
      new URL('/dashboard/stream', g.base),
      // A connection of its own, closed with the stream (no keep-alive pool holding it open afterwards).
      { agent: false, headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('error', () => undefined);
        resolve({ status: res.statusCode ?? 0, body: () => body, close: () => req?.destroy() });
      },
    );
    req.on('error', (err) => reject(err));
    req.end();
  });
}

describe('dashboard live streams per key', () => {
  it(`caps a key at ${MAX_STREAMS_PER_KEY} open streams with 429 too_many_streams; a closed one frees its place`, async () => {
    gw = await startGateway();
    const reader = await createKey(gw, ['read']);
    const open: Stream[] = [];
    try {
      for (let i = 0; i < MAX_STREAMS_PER_KEY; i++) {
        const stream = await openStream(gw, reader);
        expect(stream.status).toBe(200);
        open.push(stream);
      }
      // The streams are live: each gets a snapshot.
      await until(
        () => open.every((s) => s.body().includes('event: snapshot')),
        10_000,
        'a snapshot on each',
      );
      const refused = await openStream(gw, reader);
      expect(refused.status).toBe(429);
      await until(() => refused.body().length > 0, 5_000, 'the error body');
      expect(JSON.parse(refused.body()).error).toMatchObject({
        code: 'too_many_streams',
        message: expect.stringContaining(`${MAX_STREAMS_PER_KEY} live dashboard streams`),
      });
      // Another key has its own places.
      const other = await openStream(gw, API_KEY);
      expect(other.status).toBe(200);
      open.push(other);

      // Closing a page frees its place (the server sees the close a moment later).
      open.shift()?.close();
      let again: Stream | null = null;
      await until(
        async () => {
          const attempt = await openStream(gw as TestGateway, reader);
          if (attempt.status === 200) again = attempt;
          else attempt.close();
          return again !== null;
        },
        5_000,
        'a place freed by the closed stream',
      );
      open.push(again as unknown as Stream);
      // And the cap still holds after the place was taken again.
      const full = await openStream(gw, reader);
      expect(full.status).toBe(429);
      full.close();
    } finally {
      for (const stream of open) stream.close();
    }
    // All closed: the key can open streams again (nothing leaked).
    await until(async () => {
      const s = await openStream(gw as TestGateway, reader);
      s.close();
      return s.status === 200;
    });
  });

  /** A raw connection to the gateway, for requests no HTTP client would send that way (pipelined, cut short). */
  async function rawConnection(g: TestGateway): Promise<Socket> {
    const socket = connect(Number(new URL(g.base).port), '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return socket;
  }
  const streamRequest = (g: TestGateway, key: string) =>
    `GET /dashboard/stream HTTP/1.1\r\nHost: ${new URL(g.base).host}\r\nAuthorization: Bearer ${key}\r\n\r\n`;
  /** Resolves once the server has seen every connection close (its 'close' handlers have run). */
  const noConnections = (g: TestGateway) =>
    until(
      () =>
        new Promise<boolean>((resolve) => g.app.server.getConnections((err, n) => resolve(!err && n === 0))),
      5_000,
      'every connection closed',
    );
  /** Opens `n` streams, reports their statuses, and closes them. */
  async function openMany(g: TestGateway, key: string, n: number): Promise<number[]> {
    const streams: Stream[] = [];
    for (let i = 0; i < n; i++) streams.push(await openStream(g, key));
    for (const s of streams) s.close();
    return streams.map((s) => s.status);
  }

  it('gives back the places of streams pipelined on one connection when it closes', async () => {
    // Behind the first stream on a keep-alive connection, the others never get the socket: their responses never
    // emit 'close'. Their places must still come back when the connection goes.
    gw = await startGateway({}, { dashboard: { maxStreamsPerKey: 3 } });
    const reader = await createKey(gw, ['read']);
    const socket = await rawConnection(gw);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    socket.write(streamRequest(gw, reader).repeat(3));
    // The first stream is live (the others wait behind it), and all three hold places.
    await until(() => received.includes('event: snapshot'), 10_000, 'the first stream');
    await until(
      async () => {
        const fourth = await openStream(gw as TestGateway, reader);
        fourth.close();
        return fourth.status === 429;
      },
      10_000,
      'the three pipelined streams to hold every place',
    );
    socket.destroy();
    await noConnections(gw);
    expect(await openMany(gw, reader, 3)).toEqual([200, 200, 200]);
  });

  it('counts no stream whose connection closed before it was answered', async () => {
    const path = join(dir, 'streams.db');
    gw = await startGateway({ DATABASE_URL: path }, { dashboard: { maxStreamsPerKey: 1 } });
    // A key the gateway has not read yet: the stream's authentication reads the keys from the database. Another
    // process holds the write lock and a write waits for it on the store's worker, so that read waits behind it,
    // and the client is gone before the stream is answered.
    const reader = await createKey(gw, ['read']);
    const locker = new Database(path);
    try {
      locker.exec('BEGIN IMMEDIATE');
      const write = gw.store.createApiKey(newApiKey('waits', ['read'], null, Date.now()).record);
      const socket = await rawConnection(gw);
      socket.on('error', () => undefined);
      socket.end(streamRequest(gw, reader));
      socket.destroy();
      await noConnections(gw);
      locker.exec('ROLLBACK');
      await write;
    } finally {
      if (locker.inTransaction) locker.exec('ROLLBACK');
      locker.close();
    }
    // The stream was answered after its client left; its place was not taken.
    expect(await openMany(gw, reader, 1)).toEqual([200]);
  });
});
