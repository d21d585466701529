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

export function createAgents(): Agents {
  return { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
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
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  const onHalt = () => controller.abort();
  if (options.signal.aborted) controller.abort();
  else options.signal.addEventListener('abort', onHalt, { once: true });
  try {
    return await exchange(target, headers, body, options, controller.signal, result, () => timedOut);
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
  timedOut: () => boolean,
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
      resolve(result({ error: describeFailure(err, timedOut(), options.timeoutMs), refused }));
    });
    request.on('response', (response) => {
      answered = true;
      void answer(response, options.readBody, result).then(resolve);
    });
    request.end(body);
  });
}

async function answer(response: IncomingMessage, readBody: boolean, result: Result): Promise<PostResult> {
  const statusCode = response.statusCode ?? 0;
  if (statusCode < 200 || statusCode >= 300) {
    // Not read, but released, so the connection can be reused.
    discard(response);
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
    discard(response);
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

/** Drains an answer that is not read (the connection can then be reused), or drops it past MAX_ANSWER_BYTES. */
function discard(response: IncomingMessage): void {
  let size = 0;
  response.on('error', () => undefined);
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

function describeFailure(failure: Error, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `no answer within ${timeoutMs} ms`;
  if (failure.name === 'AbortError') return 'aborted (shutting down)';
  // A name with several addresses fails with one error per address tried (happy eyeballs): the first says enough.
  const err =
    failure instanceof AggregateError && failure.errors[0] instanceof Error ? failure.errors[0] : failure;
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case ADDRESS_REFUSED:
      return REFUSED_ERROR;
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED)';
    case 'ENOTFOUND':
      return 'host not found (ENOTFOUND)';
    case 'ECONNRESET':
      return 'connection closed before an answer (ECONNRESET)';
    default:
      return code ? `${err.message} (${code})` : err.message;
  }
}
