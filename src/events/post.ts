import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { ADDRESS_REFUSED } from '../net/callback-guard.js';
import { parseRetryAfter } from '../providers/retry-after.js';

/** What one POST to an app's endpoint came to. */
export interface PostResult {
  /** Null when there was no answer (refused, reset, timed out). */
  statusCode: number | null;
  /** Why it failed, in words for the attempt log; null on 2xx. */
  error: string | null;
  durationMs: number;
  /** From a Retry-After header, when the answer had one. */
  retryAfterMs: number | null;
  /** A 2xx answer's body, when asked for and within MAX_ANSWER_BYTES; else null. */
  body: string | null;
  /** The 2xx answer's Content-Type (lower case), or null. */
  contentType: string | null;
  /** The 2xx answer's body was longer than MAX_ANSWER_BYTES (and is not read). */
  bodyTooLarge: boolean;
  /** The guard refused the address: no connection was made. */
  refused: boolean;
}

/** An app's answer is a small JSON reply; anything longer is not read. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** What the attempt log says when the guard refuses an address: the same words whatever the address or port. */
export const REFUSED_ERROR = 'refused: the address is not allowed';

const USER_AGENT = 'Switchboard-Webhooks/1';

/** Connections are kept alive between posts, per agent. */
export interface Agents {
  http: HttpAgent;
  https: HttpsAgent;
}

/** How long a kept-alive connection may sit idle (below the common servers' 5 s, so they do not close it first). */
const IDLE_MS = 4_000;

/**
 * `idleMs`: an idle connection is closed after this (Node's agents keep one forever otherwise, for as long as the
 * other end does: every connection has a deadline).
 */
export function createAgents(idleMs = IDLE_MS): Agents {
  return {
    http: new HttpAgent({ keepAlive: true, timeout: idleMs }),
    https: new HttpsAgent({ keepAlive: true, timeout: idleMs }),
  };
}

/** Where a post may connect (net/callback-guard.ts); none for the operator's own endpoints. */
export interface ConnectGuard {
  /** Resolves and refuses (error code ADDRESS_REFUSED) a name with an address that is not allowed. */
  lookup: LookupFunction;
  /** node:net skips `lookup` for an IP address: the URL's host is checked here first. */
  allowsLiteral(hostname: string): boolean;
}

export interface PostOptions {
  timeoutMs: number;
  signal: AbortSignal;
  readBody: boolean;
  agents: Agents;
  guard?: ConnectGuard;
}

type Result = (fields: Partial<PostResult>) => PostResult;

/**
 * POSTs one event. Never throws: every failure is a result, because each is recorded as an attempt. Redirects are
 * not followed (Standard Webhooks counts a 3xx as a failure: the body would be re-sent somewhere not configured).
 *
 * node:http rather than fetch: a guarded post must connect to the very address its `lookup` checked, which
 * Node's built-in fetch has no option for (undici's Agent would, but it is not a dependency).
 */
export async function postEvent(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: PostOptions,
): Promise<PostResult> {
  const started = performance.now();
  const result: Result = (fields) => ({
    statusCode: null,
    error: null,
    retryAfterMs: null,
    body: null,
    contentType: null,
    bodyTooLarge: false,
    refused: false,
    ...fields,
    durationMs: Math.round(performance.now() - started),
  });
  const target = new URL(url);
  if (options.guard && !options.guard.allowsLiteral(target.hostname)) {
    return result({ error: REFUSED_ERROR, refused: true });
  }
  // One controller per request, linked to the long-lived shutdown signal only while it runs: AbortSignal.any()
  // on that signal keeps a reference per request for the life of the process (Node 20).
  const controller = new AbortController();
  const deadline = performance.now() + options.timeoutMs;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  const onHalt = () => controller.abort();
  if (options.signal.aborted) controller.abort();
  else options.signal.addEventListener('abort', onHalt, { once: true });
  try {
    return await exchange(target, headers, body, options, controller.signal, result, {
      deadline,
      timedOut: () => timedOut,
    });
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener('abort', onHalt);
  }
}

function exchange(
  target: URL,
  headers: Record<string, string>,
  body: string,
  options: PostOptions,
  signal: AbortSignal,
  result: Result,
  time: { deadline: number; timedOut: () => boolean },
): Promise<PostResult> {
  return new Promise<PostResult>((resolve) => {
    const secure = target.protocol === 'https:';
    const request = (secure ? httpsRequest : httpRequest)(target, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'user-agent': USER_AGENT,
        ...headers,
      },
      agent: secure ? options.agents.https : options.agents.http,
      signal,
      ...(options.guard && { lookup: options.guard.lookup }),
    });
    let answered = false;
    request.on('error', (err) => {
      // After the status line, the answer's own handling (below) says what happened.
      if (answered) return;
      const refused = (err as NodeJS.ErrnoException).code === ADDRESS_REFUSED;
      resolve(result({ error: describeFailure(err, time.timedOut(), options.timeoutMs), refused }));
    });
    request.on('response', (response) => {
      answered = true;
      void answer(response, options.readBody, result, time.deadline).then(resolve);
    });
    request.end(body);
  });
}

async function answer(
  response: IncomingMessage,
  readBody: boolean,
  result: Result,
  deadline: number,
): Promise<PostResult> {
  const statusCode = response.statusCode ?? 0;
  if (statusCode < 200 || statusCode >= 300) {
    discard(response, deadline);
    return result({
      statusCode,
      retryAfterMs: parseRetryAfter(header(response, 'retry-after')),
      error:
        statusCode >= 300 && statusCode < 400
          ? `redirect (${statusCode}) not followed: point the endpoint at the final URL`
          : `HTTP ${statusCode}`,
    });
  }
  const contentType = header(response, 'content-type')?.toLowerCase() ?? null;
  if (!readBody) {
    discard(response, deadline);
    return result({ statusCode, contentType });
  }
  try {
    const text = await readCapped(response, MAX_ANSWER_BYTES);
    return result({ statusCode, contentType, body: text, bodyTooLarge: text === null });
  } catch {
    // The answer was cut off (or timed out) after a 2xx status: the event was accepted; the reply is lost.
    return result({ statusCode, contentType });
  }
}

function header(response: IncomingMessage, name: string): string | null {
  const value = response.headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

/**
 * An answer that is not read: drained, so that its connection can be reused, but only until the attempt's own
 * deadline and up to MAX_ANSWER_BYTES; past either, the connection is closed. The attempt's result does not wait for
 * this; without the deadline, an endpoint trickling its body would hold a connection for as long as it liked, one
 * more per attempt.
 */
function discard(response: IncomingMessage, deadline: number): void {
  response.on('error', () => undefined);
  const declared = Number(header(response, 'content-length'));
  if (Number.isFinite(declared) && declared > MAX_ANSWER_BYTES) {
    response.destroy();
    return;
  }
  const timer = setTimeout(() => response.destroy(), Math.max(0, deadline - performance.now()));
  timer.unref();
  response.on('close', () => clearTimeout(timer));
  let size = 0;
  response.on('data', (chunk: Buffer) => {
    size += chunk.byteLength;
    if (size > MAX_ANSWER_BYTES) response.destroy();
  });
}

/** The body as text, or null when it is longer than `max` bytes (then it is not read further). */
async function readCapped(response: IncomingMessage, max: number): Promise<string | null> {
  const declared = Number(header(response, 'content-length'));
  if (Number.isFinite(declared) && declared > max) {
    response.destroy();
    return null;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > max) {
      response.destroy();
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * What the attempt log says about a request that got no answer: fixed words per error code, never the error's own
 * message, which can name the address connected to (`connect ETIMEDOUT 203.0.113.9:443`) or quote a certificate,
 * and the log is read by keys other than the one that chose a callback URL.
 */
function describeFailure(failure: Error, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `no answer within ${timeoutMs} ms`;
  if (failure.name === 'AbortError') return 'aborted (shutting down)';
  // A name with several addresses fails with one error per address tried (happy eyeballs): the first says enough.
  const err =
    failure instanceof AggregateError && failure.errors[0] instanceof Error ? failure.errors[0] : failure;
  const raw = (err as NodeJS.ErrnoException).code;
  // A code is a fixed token of Node's or OpenSSL's; anything else is not repeated.
  const code = typeof raw === 'string' && /^[A-Z][A-Z0-9_]{1,63}$/.test(raw) ? raw : null;
  if (code === null) return 'connection failed';
  if (code === ADDRESS_REFUSED) return REFUSED_ERROR;
  const words = FAILURES[code] ?? failureClass(code);
  return `${words} (${code})`;
}

const FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection closed before an answer',
  EPIPE: 'connection closed before an answer',
  ECONNABORTED: 'connection closed before an answer',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  // Name resolution (net/resolve.ts: c-ares codes, and getaddrinfo's for the operator's own endpoints).
  ENOTFOUND: 'host not found',
  ENODATA: 'host not found',
  EBADNAME: 'host not found',
  EAI_AGAIN: 'host could not be resolved right now',
  ETIMEOUT: 'host could not be resolved right now',
  ESERVFAIL: 'host could not be resolved right now',
  EREFUSED: 'host could not be resolved right now',
  ERR_STREAM_PREMATURE_CLOSE: 'connection closed before an answer',
  // What Node's TLS socket reports for most handshake failures (OpenSSL's text is in the message).
  EPROTO: 'TLS failure',
};

function failureClass(code: string): string {
  if (code.startsWith('HPE_')) return 'not a valid HTTP answer';
  if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || TLS_CODES.test(code))
    return 'TLS failure';
  return 'connection failed';
}

/** OpenSSL's certificate verification codes (X509_V_ERR_* without the prefix), as Node reports them. */
const TLS_CODES = /CERT|_SIGNATURE|ISSUER|CHAIN|CRL|ALTNAME|HOSTNAME_MISMATCH/;
