import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { SqliteStore } from '../../src/db/sqlite/sqlite.js';
import {
  TWILIO_SID,
  TWILIO_TOKEN,
  formBody,
  signedTelnyx,
  twilioSignature,
  type TelnyxKeys,
} from './carriers.js';

export const API_KEY = 'test-api-key-0123456789';

export interface TestGateway {
  app: FastifyInstance;
  store: SqliteStore;
  /** http://127.0.0.1:<port> */
  base: string;
  post(path: string, init: { headers?: Record<string, string>; body?: string | Buffer }): Promise<Response>;
  /** POSTs a Twilio form webhook signed (by the SDK) for the exact URL it is sent to. */
  postTwilio(params: Record<string, string | string[]>, path?: string, token?: string): Promise<Response>;
  /** POSTs a Telnyx JSON webhook signed with `keys` (now, unless a timestamp is given). */
  postTelnyx(keys: TelnyxKeys, body: unknown, path?: string, timestamp?: number): Promise<Response>;
  api(path: string, key?: string): Promise<Response>;
  close(): Promise<void>;
}

/**
 * A real gateway on an ephemeral loopback port with a real SQLite database (`:memory:` with the real migrations),
 * configured through the real config loader. The store is created here so tests can read what was committed.
 */
export async function startGateway(
  env: Record<string, string> = {},
  deps: AppDeps = {},
  port = 0,
): Promise<TestGateway> {
  const config = loadConfig({
    DATABASE_URL: ':memory:',
    LOG_LEVEL: 'silent',
    TWILIO_ACCOUNT_SID: TWILIO_SID,
    TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
    SWITCHBOARD_API_KEYS: API_KEY,
    // Never the real carriers from a test: a closed local port, so a send fails fast (and is retried).
    TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
    TELNYX_API_BASE_URL: 'http://127.0.0.1:9/v2',
    // Twilio needs PUBLIC_BASE_URL or a trusted proxy; the tests post straight to the port, so the URL Twilio
    // signed is rebuilt from the Host header (X-Forwarded-* where a test sends them).
    TRUST_PROXY: 'true',
    ...env,
  });
  const store = await SqliteStore.open({ path: config.databaseUrl });
  const app = await buildApp(config, { store, ...deps });
  await app.listen({ port, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const base = `http://127.0.0.1:${address.port}`;

  const post: TestGateway['post'] = (path, init) =>
    fetch(base + path, { method: 'POST', headers: init.headers, body: init.body });

  return {
    app,
    store,
    base,
    post,
    postTwilio: (params, path = '/webhooks', token = TWILIO_TOKEN) =>
      post(path, {
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': twilioSignature(base + path, params, token),
        },
        body: formBody(params),
      }),
    postTelnyx: (keys, body, path = '/webhooks', timestamp) =>
      post(path, signedTelnyx(keys, body, timestamp)),
    api: (path, key = API_KEY) => fetch(base + path, { headers: { authorization: `Bearer ${key}` } }),
    async close() {
      await app.close();
      await store.close();
    },
  };
}

/** Every row of a table, straight from SQLite: what was really committed. */
export async function countMessages(gw: TestGateway): Promise<number> {
  const page = await gw.store.listMessages({}, { limit: 200 });
  return page.data.length;
}

/** A response's JSON for assertions. Loosely typed on purpose: the tests check its shape with expect. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const json = (res: Response): Promise<any> => res.json();
