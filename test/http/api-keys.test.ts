import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiKey, type Scope } from '../../src/core/api-keys.js';
import { SqliteStore } from '../../src/db/sqlite/sqlite.js';
import { API_KEY, json, startGateway, type TestGateway } from '../helpers/gateway.js';
import { until } from '../helpers/wait.js';

const SEND_ENV = { TWILIO_FROM: '+14155550100' };

async function createKey(gw: TestGateway, scopes: Scope[], rateLimit: number | null = null) {
  const { key, record } = newApiKey(`test ${scopes.join('+')}`, scopes, rateLimit, Date.now());
  await gw.store.createApiKey(record);
  return { key, id: record.id };
}

function call(gw: TestGateway, key: string, method: string, path: string, body?: unknown) {
  return fetch(gw.base + path, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

describe('API keys with scopes', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(SEND_ENV);
  });
  afterAll(async () => gw.close());

  // Each route with the scope it needs; a key passes if it has that scope or admin.
  const routes: { method: string; path: string; scope: Scope; body?: unknown; passes: number }[] = [
    {
      method: 'POST',
      path: '/v1/messages',
      scope: 'send',
      body: { to: '+14155550123', body: 'hi' },
      passes: 202,
    },
    {
      method: 'POST',
      path: '/v1/messages/batch',
      scope: 'send',
      body: { messages: [{ to: '+14155550124', body: 'hi' }] },
      passes: 202,
    },
    { method: 'GET', path: '/v1/messages', scope: 'read', passes: 200 },
    { method: 'GET', path: '/v1/events', scope: 'read', passes: 200 },
    { method: 'GET', path: '/v1/endpoints', scope: 'read', passes: 200 },
    { method: 'GET', path: '/metrics', scope: 'read', passes: 200 },
    // Past authentication, an unknown endpoint is a 404: the route's own answer.
    { method: 'POST', path: '/v1/endpoints/nope/disable', scope: 'admin', passes: 404 },
    { method: 'POST', path: '/v1/events/nope/redeliver', scope: 'admin', passes: 404 },
  ];

  it('lets each key do what its scopes allow and refuses the rest with 403 insufficient_scope', async () => {
    const keys = {
      send: await createKey(gw, ['send']),
      read: await createKey(gw, ['read']),
      sendRead: await createKey(gw, ['send', 'read']),
      admin: await createKey(gw, ['admin']),
    };
    const allowed: Record<keyof typeof keys, Scope[]> = {
      send: ['send'],
      read: ['read'],
      sendRead: ['send', 'read'],
      admin: ['send', 'read', 'admin'],
    };
    for (const [name, { key, id }] of Object.entries(keys) as [
      keyof typeof keys,
      { key: string; id: string },
    ][]) {
      for (const route of routes) {
        const res = await call(gw, key, route.method, route.path, route.body);
        const label = `${name} ${route.method} ${route.path}`;
        if (allowed[name].includes(route.scope)) {
          expect(res.status, label).toBe(route.passes);
        } else {
          expect(res.status, label).toBe(403);
          const body = await json(res);
          expect(body.error.code, label).toBe('insufficient_scope');
          expect(body.error.message).toContain(id);
          expect(body.error.message).toContain(`"${route.scope}"`);
        }
      }
    }
  });

  it('gives SWITCHBOARD_API_KEYS entries every scope', async () => {
    for (const route of routes) {
      expect((await call(gw, API_KEY, route.method, route.path, route.body)).status).toBe(route.passes);
    }
  });

  it('accepts a SWITCHBOARD_API_KEYS entry shaped like a CLI key', async () => {
    const shaped = newApiKey('env', ['admin'], null, Date.now()).key;
    const envGw = await startGateway({ SWITCHBOARD_API_KEYS: shaped });
    try {
      expect((await call(envGw, shaped, 'GET', '/v1/messages')).status).toBe(200);
    } finally {
      await envGw.close();
    }
  });

  it('accepts a key created while the server runs, at once', async () => {
    const { key } = await createKey(gw, ['read']);
    expect((await call(gw, key, 'GET', '/v1/messages')).status).toBe(200);
  });

  it('refuses unknown keys, a wrong secret for a known id, and a revoked key', async () => {
    const { key, id } = await createKey(gw, ['read']);
    const wrongSecret = `${key.slice(0, -4)}AAAA`;
    const unknown = newApiKey('never stored', ['admin'], null, Date.now()).key;
    for (const bad of [wrongSecret, unknown, 'sb_short', `${key}x`]) {
      const res = await call(gw, bad, 'GET', '/v1/messages');
      expect(res.status).toBe(401);
      expect((await json(res)).error.code).toBe('unauthorized');
    }
    expect((await call(gw, key, 'GET', '/v1/messages')).status).toBe(200);

    const revoked = await gw.store.revokeApiKey(id, Date.now());
    expect(revoked?.revokedAt).not.toBeNull();
    // The server reads the keys again every 2 s.
    await until(
      async () => (await call(gw, key, 'GET', '/v1/messages')).status === 401,
      5000,
      'the revocation',
    );
  });
});

describe('per-key rate limit', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ ...SEND_ENV, API_RATE_LIMIT_PER_MINUTE: '4' }, { rateLimitWindowMs: 1500 });
  });
  afterAll(async () => gw.close());

  it('answers 429 rate_limited with Retry-After once a key has used its limit, per key, and again after the window', async () => {
    const own = await createKey(gw, ['read'], 2);
    const other = await createKey(gw, ['read']);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(gw, own.key, 'GET', '/v1/messages')).status);
    expect(statuses).toEqual([200, 200, 429]);
    const limited = await call(gw, own.key, 'GET', '/v1/events');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('x-ratelimit-limit')).toBe('2');
    const body = await json(limited);
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).toContain(own.id);

    // Another key has its own count, at the server's default (4).
    const others = [];
    for (let i = 0; i < 5; i++) others.push((await call(gw, other.key, 'GET', '/v1/messages')).status);
    expect(others).toEqual([200, 200, 200, 200, 429]);

    await until(
      async () => (await call(gw, own.key, 'GET', '/v1/messages')).status === 200,
      5000,
      'a new window',
    );
  });

  it("counts the dashboard's data requests against the same key", async () => {
    const key = await createKey(gw, ['read'], 2);
    expect((await call(gw, key.key, 'GET', '/v1/messages')).status).toBe(200);
    expect((await call(gw, key.key, 'GET', '/dashboard/api/snapshot')).status).toBe(200);
    const third = await call(gw, key.key, 'GET', '/dashboard/api/snapshot');
    expect(third.status).toBe(429);
    expect((await json(third)).error.code).toBe('rate_limited');
    expect((await call(gw, key.key, 'GET', '/v1/events')).status).toBe(429);
  });

  it('does not count requests that fail authentication against anyone', async () => {
    const key = await createKey(gw, ['read'], 1);
    for (let i = 0; i < 5; i++)
      expect((await call(gw, 'wrong-key-0123456789', 'GET', '/v1/messages')).status).toBe(401);
    expect((await call(gw, key.key, 'GET', '/v1/messages')).status).toBe(200);
  });
});

describe('API_RATE_LIMIT_PER_MINUTE=0', () => {
  it('turns the limit off', async () => {
    const gw = await startGateway({ API_RATE_LIMIT_PER_MINUTE: '0' }, { rateLimitWindowMs: 60_000 });
    try {
      for (let i = 0; i < 30; i++) {
        const res = await gw.api('/v1/messages');
        expect(res.status).toBe(200);
        expect(res.headers.get('x-ratelimit-limit')).toBeNull();
      }
    } finally {
      await gw.close();
    }
  });
});

describe('API keys in the store', () => {
  it('keeps a hash, never the key; revoking twice keeps the first time; unknown ids are null', async () => {
    const store = await SqliteStore.open({ path: ':memory:' });
    try {
      const { key, record } = newApiKey('ci', ['send', 'read'], 120, 1_000);
      await store.createApiKey(record);
      const [stored] = await store.listApiKeys();
      expect(stored).toEqual({
        id: record.id,
        name: 'ci',
        hash: record.hash,
        scopes: ['send', 'read'],
        rateLimitPerMinute: 120,
        createdAt: 1_000,
        revokedAt: null,
      });
      expect(JSON.stringify(await store.listApiKeys())).not.toContain(key.split('_')[2]);
      expect((await store.revokeApiKey(record.id, 2_000))?.revokedAt).toBe(2_000);
      expect((await store.revokeApiKey(record.id, 3_000))?.revokedAt).toBe(2_000);
      expect(await store.revokeApiKey('000000000000', 3_000)).toBeNull();
    } finally {
      await store.close();
    }
  });
});
