/** The longest wait a carrier's Retry-After is honoured for. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * The wait before try number `attempt + 1` (attempt counts from 1): exponential backoff with full jitter, a
 * uniformly random wait up to min(max, base * 2^(attempt-1)), which spreads retries of many messages that failed
 * together instead of sending them back at the same instant. A carrier's Retry-After, when given, is honoured as
 * the wait instead.
 */
export function retryDelay(
  attempt: number,
  options: BackoffOptions,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number {
  // Capped so that a nonsense header (a date years away) cannot park a message for good.
  if (retryAfterMs !== null) return Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}
