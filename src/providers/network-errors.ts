import type { SendFailure } from '../core/sending.js';

// Node's and axios's codes for a call that never got an answer. All transient: the carrier may be fine a moment
// later, and the message was (as far as we know) not accepted.
const TIMEOUT_CODES = new Set([
  'ECONNABORTED',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
]);

/** A failure that is not a carrier's answer: timeout, refused or reset connection, DNS, abort, or unknown. */
export function networkFailure(error: unknown): SendFailure {
  const err = error instanceof Error ? error : new Error(String(error));
  const code = (err as { code?: unknown }).code;
  const timedOut =
    err.name === 'TimeoutError' ||
    (typeof code === 'string' && TIMEOUT_CODES.has(code)) ||
    /\btime(?:d)? ?out\b/i.test(err.message);
  return {
    class: 'transient',
    code: timedOut ? 'timeout' : typeof code === 'string' ? code.toLowerCase() : 'network_error',
    message: timedOut ? 'the carrier did not answer in time' : err.message,
    httpStatus: null,
    retryAfterMs: null,
  };
}
