// How a carrier's failed send is classed for the dispatcher: by status (classByStatus) or, with no answer, as a
// network failure. Each adapter adds its own table of error codes on top.

import type { FailureClass, SendFailure } from '../core/sending.js';

// Node's and axios's codes for a call that got no answer. All transient: the carrier may be fine a moment later.
// A call that timed out after it was sent may have been accepted; retrying it is the at-least-once choice the
// README states (neither carrier's send API takes an idempotency key).
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
