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
}

/** An app's answer is a small JSON reply; anything longer is not read. */
export const MAX_ANSWER_BYTES = 64 * 1024;

const USER_AGENT = 'Switchboard-Webhooks/1';

/**
 * POSTs one event. Never throws: every failure is a result, because each is recorded as an attempt. Redirects are
 * not followed (Standard Webhooks counts a 3xx as a failure: the body would be re-sent somewhere not configured).
 */
export async function postEvent(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: { timeoutMs: number; signal: AbortSignal; readBody: boolean },
): Promise<PostResult> {
  const started = performance.now();
  const result = (fields: Partial<PostResult>): PostResult => ({
    statusCode: null,
    error: null,
    retryAfterMs: null,
    body: null,
    contentType: null,
    bodyTooLarge: false,
    ...fields,
    durationMs: Math.round(performance.now() - started),
  });
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
    return await exchange(url, headers, body, options, controller.signal, result, () => timedOut);
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener('abort', onHalt);
  }
}

async function exchange(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: { timeoutMs: number; readBody: boolean },
  signal: AbortSignal,
  result: (fields: Partial<PostResult>) => PostResult,
  timedOut: () => boolean,
): Promise<PostResult> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...headers },
      body,
      redirect: 'manual',
      signal,
    });
  } catch (err) {
    return result({ error: describeFailure(err, timedOut(), options) });
  }
  const statusCode = response.status;
  if (statusCode < 200 || statusCode >= 300) {
    // Not read, but released, so the connection can be reused.
    await response.body?.cancel().catch(() => undefined);
    return result({
      statusCode,
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      error:
        statusCode >= 300 && statusCode < 400
          ? `redirect (${statusCode}) not followed: point the endpoint at the final URL`
          : `HTTP ${statusCode}`,
    });
  }
  const contentType = response.headers.get('content-type')?.toLowerCase() ?? null;
  if (!options.readBody) {
    await response.body?.cancel().catch(() => undefined);
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

/** The body as text, or null when it is longer than `max` bytes (then it is not read further). */
async function readCapped(response: Response, max: number): Promise<string | null> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel().catch(() => undefined);
    return null;
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > max) {
      await response.body.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeFailure(err: unknown, timedOut: boolean, options: { timeoutMs: number }): string {
  if (timedOut) return `no answer within ${options.timeoutMs} ms`;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if ((err as Error).name === 'AbortError') return 'aborted (shutting down)';
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED)';
    case 'ENOTFOUND':
      return 'host not found (ENOTFOUND)';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return `connection closed before an answer (${cause.code})`;
    default:
      return cause?.code ? `${cause.message ?? 'request failed'} (${cause.code})` : (err as Error).message;
  }
}
