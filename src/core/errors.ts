import { hideUrlCredentials } from './url-credentials.js';

/**
 * Every error Switchboard reports to a client, in one place: a stable snake_case code, the HTTP status it maps to,
 * and a default message. Clients branch on `code`; the message is for people and may change.
 *
 * The HTTP error handler (src/http/errors.ts) turns a SwitchboardError into `{ "error": { "code", "message" } }`.
 */
export const ERRORS = {
  // Webhook authenticity
  signature_missing: { status: 403, message: 'The webhook carries no signature header.' },
  signature_invalid: { status: 403, message: 'The webhook signature does not match.' },
  timestamp_invalid: { status: 403, message: 'The webhook timestamp is missing or malformed.' },
  timestamp_out_of_range: {
    status: 403,
    message: 'The webhook timestamp is more than 300 s away from now (replayed or clock skew).',
  },
  account_mismatch: {
    status: 403,
    message: 'The webhook is for another account, or names no account (Twilio AccountSid).',
  },
  provider_not_configured: { status: 403, message: 'This provider is not configured on this gateway.' },
  signature_replayed: {
    status: 403,
    message:
      'This signature came with another request already received, with other parameters: a signed webhook ' +
      're-split into a request the carrier never sent.',
  },

  // Webhook shape
  unknown_provider: {
    status: 400,
    message: 'The payload is not a webhook that any supported carrier sends.',
  },
  malformed_body: { status: 400, message: 'The request body could not be parsed.' },
  invalid_payload: { status: 400, message: 'The webhook is missing fields this event type requires.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'The Content-Type is not supported on this route.' },
  method_not_allowed: { status: 405, message: 'The method is not allowed on this route.' },
  invalid_forwarded_header: {
    status: 400,
    message: 'X-Forwarded-Host must be a host[:port] and X-Forwarded-Proto http or https (TRUST_PROXY=true).',
  },

  // API
  unauthorized: { status: 401, message: 'A valid `Authorization: Bearer <key>` header is required.' },
  api_keys_not_configured: {
    status: 401,
    message:
      'The API is locked because no API key exists. Create one with `switchboard keys create --name NAME --scopes ' +
      'send,read` (or set SWITCHBOARD_API_KEYS) and retry.',
  },
  insufficient_scope: { status: 403, message: 'This API key does not have the scope this route needs.' },
  rate_limited: {
    status: 429,
    message: 'Too many requests for this API key; retry after Retry-After seconds.',
  },
  invalid_request: { status: 400, message: 'The request is invalid.' },

  // Dashboard
  too_many_sign_in_attempts: {
    status: 429,
    message: 'Too many failed sign-ins from this address; retry after Retry-After seconds.',
  },
  too_many_streams: {
    status: 429,
    message: 'This API key has as many live dashboard streams open as it may; close one and retry.',
  },

  invalid_cursor: { status: 400, message: 'The pagination cursor is invalid.' },
  not_found: { status: 404, message: 'Not found.' },
  message_not_found: { status: 404, message: 'No message has this id.' },

  // Sending
  invalid_phone_number: { status: 400, message: 'The phone number is not a valid number in E.164 form.' },
  body_or_media_required: { status: 400, message: 'A message needs a body, media, or both.' },
  body_too_long: { status: 400, message: 'The body is longer than the carrier accepts.' },
  too_many_media: { status: 400, message: 'The message has more media than the carrier accepts.' },
  too_many_recipients: { status: 400, message: 'The group has more recipients than the carrier accepts.' },
  channel_conflict: {
    status: 400,
    message: '"channel" contradicts the addresses: a whatsapp: address is sent on WhatsApp only.',
  },
  unsupported_channel: {
    status: 422,
    message: 'The carrier chosen for this message cannot send on its channel; it is never sent on another.',
  },
  recipient_opted_out: {
    status: 422,
    message: 'The recipient opted out (replied STOP) of messages from this sender.',
  },
  idempotency_conflict: {
    status: 409,
    message: 'This Idempotency-Key was already used for a different request.',
  },
  provider_unavailable: { status: 422, message: 'The provider is not configured for sending.' },
  from_required: { status: 422, message: 'No sender: pass "from" or configure one for the provider.' },
  status_callback_unavailable: {
    status: 422,
    message:
      'statusCallback needs APP_WEBHOOK_SECRET on the gateway: status callbacks are signed like every event (see ' +
      'the README, Receiving events).',
  },
  invalid_callback_url: {
    status: 422,
    message:
      'statusCallback must point at a public address: loopback, private, link-local and other non-public ' +
      'addresses are refused (see the README, Security).',
  },
  no_provider_available: {
    status: 503,
    message: 'No carrier is configured for sending (no credentials); see the README, Configuration.',
  },

  // Events and endpoints
  event_not_found: { status: 404, message: 'No event has this id.' },
  endpoint_not_found: { status: 404, message: 'No endpoint has this id (see GET /v1/endpoints).' },
  endpoint_disabled: {
    status: 409,
    message: 'The endpoint is disabled; enable it (POST /v1/endpoints/:id/enable) first.',
  },
  no_matching_endpoint: {
    status: 409,
    message: 'No enabled endpoint takes this event type; nothing to redeliver to.',
  },

  // Server side
  service_unavailable: { status: 503, message: 'The service is not ready.' },
  internal_error: { status: 500, message: 'An internal error occurred.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class SwitchboardError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'SwitchboardError';
    this.code = code;
    this.statusCode = ERRORS[code].status;
  }
}

export function isSwitchboardError(err: unknown): err is SwitchboardError {
  return err instanceof SwitchboardError;
}

/**
 * Invalid configuration at start: one line per bad field, all reported at once. A URL quoted in a line never shows
 * its user name and password, whoever wrote the line (it goes to the log and the terminal).
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(given: string[]) {
    const problems = given.map(hideUrlCredentials);
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
