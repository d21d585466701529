// Every error code the simulator answers or reports, in one place.
//
// Sources (checked 2025): Twilio's error dictionary (https://www.twilio.com/docs/api/errors/<code>), whose REST
// error body is { code, message, more_info, status }; Telnyx's API error codes
// (https://developers.telnyx.com/development/api-fundamentals/api-errors), its messaging error codes
// (https://developers.telnyx.com/docs/messaging/messages/error-codes) and the per-code pages
// (https://developers.telnyx.com/api/errors/<code>, which give the HTTP status: 40310 -> 400, 40318 -> 429).
// Telnyx documents no status for 40300 at send time; 400 is what integrations observe and the brief asks for.
// Telnyx has no distinct code for 503, so 503 carries 10007 "Unexpected error" as a generic server fault.
// {to} and {path} in a message are filled with the recipient and the request path.

export interface TwilioErrorInfo {
  status: number;
  message: string;
}

/** Twilio errors answered at send time. */
export const TWILIO_API_ERRORS: Readonly<Record<string, TwilioErrorInfo>> = {
  '20003': { status: 401, message: 'Authenticate' },
  '20004': { status: 405, message: 'Method not allowed' },
  '20404': { status: 404, message: 'The requested resource {path} was not found' },
  '20429': { status: 429, message: 'Too Many Requests' },
  '20500': { status: 500, message: 'An internal server error has occurred' },
  '20503': { status: 503, message: 'Service unavailable' },
  '21211': { status: 400, message: "The 'To' number {to} is not a valid phone number." },
  '21408': {
    status: 400,
    message:
      "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}.",
  },
  '21603': {
    status: 400,
    message: "A 'From' or 'MessagingServiceSid' parameter is required to send a message",
  },
  '21604': { status: 400, message: "A 'To' phone number is required." },
  '21608': {
    status: 400,
    message: 'The number {to} is unverified. Trial accounts cannot send messages to unverified numbers.',
  },
  '21610': { status: 400, message: 'Attempt to send to unsubscribed recipient' },
  '21611': { status: 400, message: "This 'From' number has exceeded the maximum number of queued messages" },
  '21612': { status: 400, message: "The 'To' phone number: {to}, is not currently reachable via SMS." },
  '21614': { status: 400, message: "'To' number is not a valid mobile number" },
  '21617': { status: 400, message: 'The concatenated message body exceeds the 1600 character limit.' },
  '21619': { status: 400, message: 'A text message body or media urls must be specified.' },
  '21624': { status: 400, message: 'Invalid validity period value' },
};

export interface TwilioDeliveryFailure {
  /** `failed`: never left Twilio (no `sent` callback first); `undelivered`: the carrier did not deliver it. */
  status: 'failed' | 'undelivered';
  message: string;
}

/** Twilio errors reported in the final status callback (ErrorCode, ErrorMessage). */
export const TWILIO_DELIVERY_ERRORS: Readonly<Record<string, TwilioDeliveryFailure>> = {
  '21610': { status: 'failed', message: 'Attempt to send to unsubscribed recipient' },
  '30001': { status: 'failed', message: 'Queue overflow' },
  '30002': { status: 'failed', message: 'Account suspended' },
  '30003': { status: 'undelivered', message: 'Unreachable destination handset' },
  '30004': { status: 'undelivered', message: 'Message blocked' },
  '30005': { status: 'undelivered', message: 'Unknown destination handset' },
  '30006': { status: 'undelivered', message: 'Landline or unreachable carrier' },
  '30007': { status: 'undelivered', message: 'Message filtered' },
  '30008': { status: 'undelivered', message: 'Unknown error' },
  // Never left Twilio's queue: it waited past its ValidityPeriod.
  '30036': { status: 'failed', message: 'Validity Period Expired' },
};

export interface TelnyxErrorInfo {
  status: number;
  title: string;
  detail: string;
}

/** Telnyx errors answered at send time. */
export const TELNYX_API_ERRORS: Readonly<Record<string, TelnyxErrorInfo>> = {
  '10004': { status: 422, title: 'Missing required parameter', detail: 'A required parameter was missing.' },
  '10005': {
    status: 404,
    title: 'Resource not found',
    detail: 'The requested resource or URL could not be found.',
  },
  // "occured" is Telnyx's own spelling.
  '10007': { status: 500, title: 'Unexpected error', detail: 'An unexpected error occured.' },
  '10008': { status: 504, title: 'Request timeout', detail: 'The request timed out.' },
  '10009': {
    status: 401,
    title: 'Authentication failed',
    detail: 'The required authentication headers were either invalid or not included in the request.',
  },
  '10010': {
    status: 403,
    title: 'Authorization failed',
    detail:
      'You do not have permission to perform the requested action on the specified resource or resources.',
  },
  '10011': {
    status: 429,
    title: 'Too many requests',
    detail: 'You have exceeded the maximum number of allowed requests.',
  },
  '10015': {
    status: 400,
    title: 'Bad Request',
    detail: 'The request failed because it was not well-formed.',
  },
  '10016': {
    status: 422,
    title: 'Phone number must be in +E.164 format',
    detail: 'The specified phone number parameter must be in +E.164 format.',
  },
  '40300': {
    status: 400,
    title: 'Blocked due to STOP message',
    detail: 'Messages cannot be sent due to an existing block rule.',
  },
  '40305': {
    status: 400,
    title: "Invalid 'from' address",
    detail: "The 'from' address should be a valid number, short code or alphanumeric sender ID.",
  },
  '40310': {
    status: 400,
    title: "Invalid 'to' address",
    detail: "The 'to' address should be a single valid number.",
  },
  '40318': {
    status: 429,
    title: 'Message queue full',
    detail: 'Message queue is full. Wait before resending.',
  },
};

export interface TelnyxDeliveryFailure {
  /** to[0].status of message.finalized: `sending_failed` never left Telnyx (no message.sent first). */
  status: 'sending_failed' | 'delivery_failed';
  title: string;
  detail: string;
}

/** Telnyx errors reported in message.finalized (errors[]); titles and details from the messaging error codes. */
export const TELNYX_DELIVERY_ERRORS: Readonly<Record<string, TelnyxDeliveryFailure>> = {
  '40001': {
    status: 'delivery_failed',
    title: 'Not routable',
    detail: 'The destination number is either a landline or a non-routable wireless number.',
  },
  '40002': {
    status: 'delivery_failed',
    title: 'Blocked as spam - temporary',
    detail: 'The message was flagged by a SPAM filter and was not delivered. This is a temporary condition.',
  },
  '40003': {
    status: 'delivery_failed',
    title: 'Blocked as spam - permanent',
    detail:
      'The message was flagged by a SPAM filter and was not delivered. The originating phone number is permanently blocked.',
  },
  '40004': {
    status: 'delivery_failed',
    title: 'Rejected by destination',
    detail: 'The recipient server is rejecting the message for an unknown reason.',
  },
  '40005': {
    status: 'delivery_failed',
    title: 'Message expired during transmission',
    detail: 'The message expired before it could be fully delivered to the recipient.',
  },
  '40006': {
    status: 'delivery_failed',
    title: 'Recipient server unavailable',
    detail: 'The recipient server is unavailable or not responding. This may be a temporary issue.',
  },
  '40008': {
    status: 'delivery_failed',
    title: 'Undeliverable',
    detail: 'The recipient carrier did not accept the message.',
  },
  '40009': {
    status: 'delivery_failed',
    title: 'Invalid message body',
    detail: 'The message body was invalid.',
  },
  '40011': { status: 'delivery_failed', title: 'Too many requests', detail: 'Exceeded upstream rate limit.' },
  '40012': {
    status: 'delivery_failed',
    title: 'Invalid messaging destination number',
    detail: 'The carrier rejected the destination number.',
  },
  '40013': {
    status: 'sending_failed',
    title: 'Invalid messaging source number',
    detail: 'The carrier rejected the source number.',
  },
  '40014': {
    status: 'sending_failed',
    title: 'Message expired in queue',
    detail: 'The message expired in the queue before Telnyx attempted to relay it.',
  },
  '40015': {
    status: 'sending_failed',
    title: 'Blocked as spam - internal',
    detail: 'The message was flagged by the Telnyx spam filter.',
  },
  '40300': {
    status: 'sending_failed',
    title: 'Blocked due to STOP message',
    detail: 'Messages cannot be sent due to an existing block rule.',
  },
};

/** Twilio's code for an HTTP status without a more specific one: 20000 + status (20404, 20429, 20500...), but 401 is 20003. */
export function twilioCodeForStatus(status: number): string {
  return status === 401 ? '20003' : String(20000 + status);
}

const TELNYX_CODE_FOR_STATUS: Readonly<Record<number, string>> = {
  400: '10015',
  401: '10009',
  403: '10010',
  404: '10005',
  422: '10015',
  429: '10011',
  504: '10008',
};

/** Telnyx's generic code for an HTTP status; anything unlisted is 10007 "Unexpected error". */
export function telnyxCodeForStatus(status: number): string {
  return TELNYX_CODE_FOR_STATUS[status] ?? '10007';
}

/** Fills {to} and {path} in a message from the tables. */
export function fillTemplate(
  text: string,
  vars: { to?: string | undefined; path?: string | undefined },
): string {
  if (!text.includes('{')) return text;
  return text.replaceAll('{to}', vars.to ?? '').replaceAll('{path}', vars.path ?? '');
}
