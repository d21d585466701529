import type { Answer, QueuePolicy, SendRequest } from './carrier.js';

// Telnyx's message queue (https://developers.telnyx.com/docs/messaging/messages/rate-limiting and
// .../messages/configuration-and-usage, checked 2025): messages sent faster than the sender's rate limit are held
// in a queue per number; each queue holds four hours of sending (long code 0.1 MPS: 1,440 messages; toll-free 20
// MPS: 288,000; account 50 SMS/s: 720,000), and a message that would wait longer is refused at once: 40318
// "Message queue full" (an HTTP 429, per https://developers.telnyx.com/api/errors/40318). A queued message that
// outlives its validity (`valid_until`, an hour after `received_at` in Telnyx's documented events) never leaves:
// message.finalized reports it `sending_failed` with 40014 "Message expired in queue" (you were not billed).

/** Seconds of sending a Telnyx sender's queue holds. */
export const TELNYX_MAX_QUEUE_SECONDS = 4 * 3600;
/** A Telnyx message's validity: `valid_until` is `received_at` plus this. */
export const TELNYX_VALIDITY_SECONDS = 3600;

export function telnyxQueuePolicy(dialect: {
  error(status: number, code?: string, options?: { to?: string }): Answer;
}): QueuePolicy {
  return {
    maxQueueSeconds: TELNYX_MAX_QUEUE_SECONDS,
    validitySeconds: TELNYX_VALIDITY_SECONDS,
    sender: (request: SendRequest) => request.from,
    queueFull: (request: SendRequest) => ({ refuse: dialect.error(429, '40318', { to: request.to }) }),
    expired: () => '40014',
  };
}
