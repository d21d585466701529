// Telnyx answers an API rate limit with 429 and x-ratelimit-limit / x-ratelimit-remaining / x-ratelimit-reset, not
// Retry-After. Its documentation says x-ratelimit-reset "shows the time in seconds until the rate limit resets"
// (https://developers.telnyx.com/development/api-fundamentals/reliability/rate-limiting); many APIs write a Unix
// time in the same header, so a value that can only be a Unix time is read as one rather than as a 50-year wait.

/** Seconds since the epoch from which a reset value is a Unix time (2001-09-09), not a duration. */
const UNIX_TIME_FROM = 1_000_000_000;

/**
 * How long until Telnyx's rate-limit window resets, from a 429's headers; null when they do not say (no or an
 * unreadable x-ratelimit-reset), or when x-ratelimit-remaining shows requests left, which means this 429 came from
 * another limit than the one the headers describe (then the caller backs off on its own schedule).
 */
export function rateLimitResetMs(headers: Pick<Headers, 'get'> | undefined, now = Date.now()): number | null {
  const remaining = headers?.get('x-ratelimit-remaining')?.trim();
  if (remaining !== undefined && /^\d+$/.test(remaining) && Number(remaining) > 0) return null;
  const reset = headers?.get('x-ratelimit-reset')?.trim();
  if (reset === undefined || !/^\d+(\.\d+)?$/.test(reset)) return null;
  const value = Number(reset);
  if (value >= UNIX_TIME_FROM) return Math.max(0, Math.round(value * 1000 - now));
  return Math.round(value * 1000);
}
