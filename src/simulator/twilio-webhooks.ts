import twilio from 'twilio';
import { dlrDate, twilioSid, uuid } from './ids.js';
import { TWILIO_API_VERSION } from './twilio-api.js';
import { twilioSegments } from './twilio-segments.js';
import type { SimulatedMessage } from './types.js';
import type { WebhookRequest } from './webhook-sender.js';

export interface TwilioAccount {
  accountSid: string;
  authToken: string;
}

/** A status callback's parameters, named and ordered as Twilio sends them. */
export function twilioStatusParams(
  account: TwilioAccount,
  message: SimulatedMessage,
  status: string,
  at: number,
  receiptUtcOffsetMinutes: number,
  error?: { code: string; message: string },
): Record<string, string> {
  const params: Record<string, string> = {
    SmsSid: message.id,
    SmsStatus: status,
    MessageStatus: status,
    To: message.to,
  };
  if (message.messagingServiceSid !== null) params.MessagingServiceSid = message.messagingServiceSid;
  params.MessageSid = message.id;
  params.AccountSid = account.accountSid;
  params.From = message.from;
  params.ApiVersion = TWILIO_API_VERSION;
  if (error) {
    params.ErrorCode = error.code;
    params.ErrorMessage = error.message;
  }
  // The carrier's delivery receipt time, on the outcomes a receipt reports: its local time, zone unsaid.
  if (status === 'delivered' || status === 'undelivered')
    params.RawDlrDoneDate = dlrDate(at, receiptUtcOffsetMinutes);
  return params;
}

/** An inbound message webhook's parameters (SmsStatus `received`), as Twilio posts them to a number's URL. */
export function twilioInboundParams(
  account: TwilioAccount,
  input: { from: string; to: string; body: string; mediaUrls: string[] },
): { sid: string; params: Record<string, string> } {
  const sid = twilioSid(input.mediaUrls.length > 0 ? 'MM' : 'SM');
  const params: Record<string, string> = {
    ToCountry: country(input.to),
    ToState: '',
    SmsMessageSid: sid,
    NumMedia: String(input.mediaUrls.length),
    ToCity: '',
    FromZip: '',
    SmsSid: sid,
    FromState: '',
    SmsStatus: 'received',
    FromCity: '',
    Body: input.body,
    FromCountry: country(input.from),
    To: input.to,
    ToZip: '',
    NumSegments: String(input.mediaUrls.length > 0 ? 1 : Math.max(1, twilioSegments(input.body).segments)),
    MessageSid: sid,
    AccountSid: account.accountSid,
    From: input.from,
    ApiVersion: TWILIO_API_VERSION,
  };
  input.mediaUrls.forEach((url, i) => {
    params[`MediaContentType${i}`] = contentTypeOf(url);
    params[`MediaUrl${i}`] = url;
  });
  return { sid, params };
}

/** A form POST signed as Twilio signs it: the SDK's own signature over the URL and every parameter. */
export function signedTwilioRequest(
  authToken: string,
  url: string,
  params: Record<string, string>,
): WebhookRequest {
  return {
    url,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilio.getExpectedTwilioSignature(authToken, url, params),
      'user-agent': 'TwilioProxy/1.1',
      'i-twilio-idempotency-token': uuid(),
    },
    body: new URLSearchParams(params).toString(),
  };
}

/**
 * Twilio's connection overrides live in the callback URL's fragment (#rc=retry count, #rt=read timeout in ms...).
 * The fragment is never sent, and the signature covers the URL without it.
 */
export function twilioConnectionOverrides(raw: string): {
  url: string;
  retries?: number;
  timeoutMs?: number;
} {
  const hash = raw.indexOf('#');
  if (hash === -1) return { url: raw };
  const overrides = new URLSearchParams(raw.slice(hash + 1));
  const out: { url: string; retries?: number; timeoutMs?: number } = { url: raw.slice(0, hash) };
  const rc = Number(overrides.get('rc'));
  if (overrides.has('rc') && Number.isInteger(rc) && rc >= 0 && rc <= 5) out.retries = rc;
  const rt = Number(overrides.get('rt'));
  if (overrides.has('rt') && rt > 0) out.timeoutMs = rt;
  return out;
}

function country(number: string): string {
  return number.startsWith('+1') ? 'US' : '';
}

const CONTENT_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  mp4: 'video/mp4',
  pdf: 'application/pdf',
  vcf: 'text/vcard',
};

/** Twilio reports the media's type; the simulator fetches nothing, so it goes by the extension. */
export function contentTypeOf(url: string): string {
  const ext = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(url)?.[1]?.toLowerCase();
  return (ext && CONTENT_TYPES[ext]) ?? 'application/octet-stream';
}
