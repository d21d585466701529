import cookie from '@fastify/cookie';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from '../core/dispatcher.js';
import { SwitchboardError } from '../core/errors.js';
import type { Message } from '../core/message.js';
import { normalizeSender } from '../core/phone.js';
import type { Store } from '../core/store.js';
import type { Activity } from '../dashboard/activity.js';
import { ASSETS } from '../dashboard/assets.js';
import { LiveFeed } from '../dashboard/live.js';
import { dashboardPage, DOCUMENT_HEADERS, loginPage } from '../dashboard/page.js';
import { SESSION_TTL_MS, Sessions } from '../dashboard/sessions.js';
import { SignInThrottle, type SignInThrottleOptions } from '../dashboard/sign-in-throttle.js';
import { SnapshotBuilder } from '../dashboard/snapshot.js';
import type { EventDeliverer } from '../events/deliverer.js';
import {
  authenticate,
  bearerToken,
  checkScope,
  requestKey,
  type ApiKeyIdentity,
  type KeyVerifier,
} from './auth.js';
import { perKeyRateLimit } from './rate-limit.js';
import { RequestLog } from './request-log.js';
import { queryPhone } from './schema.js';
import { messageFor } from './visibility.js';

export interface DashboardOptions {
  store: Store;
  keys: KeyVerifier;
  activity: Activity;
  dispatcher: Dispatcher;
  deliverer: EventDeliverer;
  /** Mark the session cookie Secure (PUBLIC_BASE_URL is https). */
  secureCookies: boolean;
  /**
   * The cookie's Path as the browser sees the dashboard: behind a proxy that adds a prefix (PUBLIC_BASE_URL
   * https://example.com/sms), `/sms/dashboard`. @default '/dashboard'
   */
  cookiePath?: string;
  /** Failed sign-ins per client address (tests shorten the window). */
  signInThrottle?: SignInThrottleOptions;
  /** Live streams (/dashboard/stream) one API key may have open at once. @default MAX_STREAMS_PER_KEY */
  maxStreamsPerKey?: number;
}

export const SESSION_COOKIE = 'switchboard_session';
/**
 * Live streams one API key may hold open: a page per operator and a few spare. Each open stream holds a connection
 * and gets every snapshot, so a script (or a leaked key) opening thousands would cost the gateway, not the caller.
 */
export const MAX_STREAMS_PER_KEY = 10;

/** The dashboard's path as the browser sees it, for the cookie: PUBLIC_BASE_URL's path prefix + /dashboard. */
export function dashboardCookiePath(publicBaseUrl: string | null): string {
  const prefix = publicBaseUrl === null ? '' : new URL(publicBaseUrl).pathname.replace(/\/+$/, '');
  const path = `${prefix}/dashboard`;
  // A cookie's Path cannot hold ';' or control characters: such a prefix (unusual) falls back to the plain path.
  return /^[\x21-\x3a\x3c-\x7e]+$/.test(path) ? path : '/dashboard';
}
/** Messages a conversation shows at most (the latest). */
export const CONVERSATION_LIMIT = 200;

const SessionBody = Type.Object(
  { key: Type.String({ minLength: 1, maxLength: 512 }) },
  { additionalProperties: false },
);
type SessionBody = Static<typeof SessionBody>;

const ConversationQuery = Type.Object(
  { number: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
type ConversationQuery = Static<typeof ConversationQuery>;

const MessageParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
type MessageParams = Static<typeof MessageParams>;

const AssetParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) });
type AssetParams = Static<typeof AssetParams>;

const NO_CREDENTIALS =
  'Sign in at /dashboard (a session cookie), or send `Authorization: Bearer <key>` with the read scope.';

/** Writes a stream's request line when its client went away (see the stream route). */
const streamLog = new RequestLog();

// Dashboard routes are not part of the API: hidden from the OpenAPI document.
const hidden = { hide: true };

/**
 * The live dashboard at /dashboard, for operators: counts and rates per provider, delivery ratio, queues, failures
 * by error code, recent messages with their history, conversations, event deliveries, a chart of the last hour.
 *
 * Access needs an API key with the `read` scope, presented once on the sign-in page (POST /dashboard/session),
 * which starts a session held in an HttpOnly, SameSite=Strict cookie scoped to /dashboard; or, for scripts, an
 * `Authorization: Bearer` key on each request. A session's key is checked again on every request and every tick
 * of the stream, so revoking the key ends its sessions (within the key cache's refresh, 2 s).
 *
 * Routes: GET /dashboard (the page, or the sign-in page with 401), GET /dashboard/assets/:name, POST and DELETE
 * /dashboard/session, GET /dashboard/api/snapshot, /dashboard/api/messages/:id, /dashboard/api/conversation
 * ?number=, and GET /dashboard/stream (server-sent events: a `snapshot` at once, then every 2 s).
 */
export const dashboardRoutes: FastifyPluginAsync<DashboardOptions> = async (app, options) => {
  const { store, keys, activity, dispatcher, deliverer, secureCookies } = options;
  // Registered here, so cookies are parsed for the dashboard's routes only.
  await app.register(cookie);
  const sessions = new Sessions();
  const throttle = new SignInThrottle(options.signInThrottle);
  const maxStreams = options.maxStreamsPerKey ?? MAX_STREAMS_PER_KEY;
  /** Open streams per API key id; a key's entry is removed when its last stream closes. */
  const streams = new Map<string, number>();
  const builder = new SnapshotBuilder({ store, activity, dispatcher, deliverer });
  const feed = new LiveFeed({
    build: () => builder.build(),
    onError: (err) => app.log.warn({ err }, 'dashboard: building a snapshot failed'),
  });
  // preClose, not onClose: the server waits for open connections before the onClose hooks run, and an event
  // stream never ends by itself. Ending the streams here lets the graceful close sweep their connections.
  app.addHook('preClose', async () => feed.close());

  const cookieOptions = {
    path: options.cookiePath ?? '/dashboard',
    httpOnly: true,
    sameSite: 'strict',
    secure: secureCookies,
  } as const;

  /**
   * The key a request reads the dashboard with: a bearer key (wins when both are sent) or the session cookie's;
   * throws 401 or 403 (and clears an ended session's cookie when there is a reply to clear it on).
   */
  async function identify(request: FastifyRequest, reply: FastifyReply | null): Promise<ApiKeyIdentity> {
    const token = bearerToken(request);
    let identity: ApiKeyIdentity | null;
    if (token !== null) identity = await authenticate(keys, token);
    else {
      const sessionToken = request.cookies[SESSION_COOKIE];
      if (sessionToken === undefined || sessionToken === '') {
        throw new SwitchboardError('unauthorized', NO_CREDENTIALS);
      }
      const session = sessions.find(sessionToken);
      identity = session === null ? null : await keys.active(session.keyId);
      if (identity === null) {
        sessions.delete(sessionToken);
        reply?.clearCookie(SESSION_COOKIE, cookieOptions);
        throw new SwitchboardError(
          'unauthorized',
          'The dashboard session has ended (expired, signed out, or its API key was revoked); sign in again.',
        );
      }
    }
    checkScope(identity, 'read', 'the dashboard');
    return identity;
  }

  /** onRequest of the data routes and the stream: answers 401 or 403 (JSON) unless the request may read. */
  async function requireRead(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    request.apiKey = await identify(request, reply);
    reply.header('cache-control', 'no-store');
  }

  app.get('/dashboard', { schema: hidden }, async (request, reply) => {
    reply.headers(DOCUMENT_HEADERS);
    let identity: ApiKeyIdentity;
    try {
      identity = await identify(request, reply);
    } catch (err) {
      if (err instanceof SwitchboardError) return reply.code(401).send(loginPage());
      throw err;
    }
    request.apiKey = identity;
    return reply.send(dashboardPage(identity));
  });

  // A trailing slash would break the page's relative URLs.
  app.get('/dashboard/', { schema: hidden }, async (_request, reply) => reply.redirect('../dashboard', 302));

  app.get<{ Params: AssetParams }>(
    '/dashboard/assets/:name',
    { schema: { ...hidden, params: AssetParams } },
    async (request, reply) => {
      const asset = ASSETS.get(request.params.name);
      if (asset === undefined) {
        throw new SwitchboardError('not_found', `No dashboard asset is named ${request.params.name}.`);
      }
      reply.headers({
        'content-type': asset.contentType,
        'cache-control': 'no-cache',
        etag: asset.etag,
        'x-content-type-options': 'nosniff',
      });
      if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
      return reply.send(asset.body);
    },
  );

  app.post<{ Body: SessionBody }>(
    '/dashboard/session',
    { schema: { ...hidden, body: SessionBody } },
    async (request, reply) => {
      const waitMs = throttle.blockedFor(request.ip);
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000);
        reply.header('retry-after', String(seconds));
        throw new SwitchboardError(
          'too_many_sign_in_attempts',
          `Too many failed sign-ins from this address; retry in ${seconds} s.`,
        );
      }
      let identity: ApiKeyIdentity;
      try {
        identity = await authenticate(keys, request.body.key);
      } catch (err) {
        // Only a key that is not valid counts: a valid key without the read scope is no guess.
        if (err instanceof SwitchboardError && err.code === 'unauthorized') throttle.failed(request.ip);
        throw err;
      }
      checkScope(identity, 'read', 'the dashboard');
      request.apiKey = identity;
      // A session already in this browser is replaced, not left behind.
      const previous = request.cookies[SESSION_COOKIE];
      if (previous !== undefined) sessions.delete(previous);
      const { token, expiresAt } = sessions.create(identity.id);
      reply.setCookie(SESSION_COOKIE, token, { ...cookieOptions, maxAge: SESSION_TTL_MS / 1000 });
      reply.header('cache-control', 'no-store');
      return {
        key: { id: identity.id, name: identity.name, scopes: identity.scopes },
        expiresAt: new Date(expiresAt).toISOString(),
      };
    },
  );

  app.delete('/dashboard/session', { schema: hidden }, async (request, reply) => {
    const token = request.cookies[SESSION_COOKIE];
    if (token !== undefined) sessions.delete(token);
    reply.clearCookie(SESSION_COOKIE, cookieOptions);
    return reply.code(204).send();
  });

  // Data: JSON, behind a session or a bearer key with the read scope.
  await app.register(async (data) => {
    data.addHook('onRequest', requireRead);
    // The same per-key count as the API (a stream is one request; its updates are not counted).
    data.addHook('onRequest', perKeyRateLimit(data));

    data.get('/dashboard/api/snapshot', { schema: hidden }, async () => builder.build());

    data.get<{ Params: MessageParams }>(
      '/dashboard/api/messages/:id',
      { schema: { ...hidden, params: MessageParams } },
      async (request) => {
        const message = await store.getMessage(request.params.id);
        if (message === null) throw new SwitchboardError('message_not_found');
        return messageFor(requestKey(request), message);
      },
    );

    data.get<{ Querystring: ConversationQuery }>(
      '/dashboard/api/conversation',
      { schema: { ...hidden, querystring: ConversationQuery } },
      async (request) => {
        const number = normalizeSender(queryPhone(request.query.number));
        if (number === null) {
          throw new SwitchboardError(
            'invalid_request',
            'number must be a phone number in E.164 form (+14155550123), a short code or a sender id.',
          );
        }
        const page = { limit: CONVERSATION_LIMIT };
        const [from, to] = await Promise.all([
          store.listMessages({ from: number }, page),
          store.listMessages({ to: number }, page),
        ]);
        // Ids are UUIDv7, so id order is creation order. Newest first, deduplicated, then the latest
        // CONVERSATION_LIMIT, oldest first as a chat reads.
        const viewer = requestKey(request);
        const byId = new Map<string, Message>();
        for (const m of [...from.data, ...to.data]) byId.set(m.id, messageFor(viewer, m));
        const newest = [...byId.values()].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
        return {
          number,
          messages: newest.slice(0, CONVERSATION_LIMIT).reverse(),
          truncated: newest.length > CONVERSATION_LIMIT || from.nextCursor !== null || to.nextCursor !== null,
        };
      },
    );

    data.get('/dashboard/stream', { schema: hidden, exposeHeadRoute: false }, (request, reply) => {
      const req = request.raw;
      if (req.destroyed || req.socket.destroyed) {
        // The client went away while the request was being authenticated: its 'close' events have fired already,
        // so nothing would ever give a place back. There is no one to answer either.
        reply.hijack();
        reply.raw.destroy();
        streamLog.requestCompleted(null, request, reply);
        return;
      }
      const keyId = requestKey(request).id;
      const open = streams.get(keyId) ?? 0;
      if (open >= maxStreams) {
        throw new SwitchboardError(
          'too_many_streams',
          `API key ${keyId} has ${open} live dashboard streams open, the most it may; close a dashboard page ` +
            'and retry.',
        );
      }
      streams.set(keyId, open + 1);
      // From here the response is ours: Fastify sends nothing more. Fastify still writes the request's log line
      // when the response finishes, which it does when the feed ends it (shutdown, session ended).
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        // Proxies such as nginx would otherwise buffer the stream.
        'x-accel-buffering': 'no',
      });
      // Reconnect after 2 s if the connection drops.
      res.write('retry: 2000\n\n');
      // The place is given back once, on whichever closes first. A response queued behind another on the same
      // keep-alive connection (pipelined) never gets the socket, so it never emits 'close' when the connection
      // drops; its request does (Node destroys the requests still waiting for an answer). A GET's body is never
      // read, so the request does not close before the connection does.
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        req.off('close', release);
        res.off('close', release);
        const left = (streams.get(keyId) ?? 1) - 1;
        if (left > 0) streams.set(keyId, left);
        else streams.delete(keyId);
        // The usual end of a stream: the page was closed. The response never finishes then, so Fastify writes no
        // line for it; it is written here, in the request log's own format.
        if (!res.writableFinished) streamLog.requestCompleted(null, request, reply);
      };
      req.once('close', release);
      res.once('close', release);
      feed.add(req, res, () =>
        identify(request, null).then(
          () => true,
          () => false,
        ),
      );
    });
  });
};
