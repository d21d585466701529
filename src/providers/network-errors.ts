import type { FailureClass, SendFailure } from '../core/sending.js';

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

/**
 * A carrier's HTTP error answer, classed by its code where the carrier's table knows it, else by its status: 429
 * slow down, 5xx transient, an account-level refusal (`accountStatuses`: 401, 403, and 402 for Telnyx) the
 * carrier's fault, any other 4xx a permanent refusal of this message.
 */
export function classByStatus(
  status: number,
  known: FailureClass | undefined,
  accountStatuses: readonly number[],
): FailureClass {
  if (known !== undefined) return known;
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'transient';
  return accountStatuses.includes(status) ? 'provider' : 'rejected';
}
