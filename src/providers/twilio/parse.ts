import type { Channel, Media } from '../../core/message.js';
import type { NormalizedEvent } from '../../core/provider.js';
import { normalizeAddress } from '../../core/phone.js';
import { countSegments } from '../../core/segments.js';
import type { FormParams, RawWebhook } from '../../core/webhook.js';
import { SwitchboardError } from '../../core/errors.js';
import { asCount, formValue, requireField } from '../fields.js';
import { mapTwilioStatus } from './statuses.js';

const WHATSAPP = 'whatsapp:';
// Twilio caps NumMedia at 10; a larger claim is not believed, to bound the work per webhook.
const MAX_MEDIA = 10;

// Twilio's error code for a message to a recipient who replied STOP to the sender (its error dictionary, 21610);
// in a failed status callback it reports an opt-out as surely as the send API's answer does.
const OPTED_OUT = '21610';

/**
 * Twilio messaging webhooks: an inbound message or a status callback for a message sent through Twilio. Twilio adds
 * parameters without notice; unknown ones are ignored here (they were verified).
 *
 * A status callback always carries MessageStatus ("a subset of the standard request properties, and additionally
 * MessageStatus and ErrorCode": https://www.twilio.com/docs/messaging/guides/track-outbound-message-status); the
 * documented parameters of an incoming message (MessageSid, SmsSid, SmsMessageSid, AccountSid,
 * MessagingServiceSid, From, To, Body, NumMedia, NumSegments, media, geographic and WhatsApp fields:
 * https://www.twilio.com/docs/messaging/guides/webhook-request) do not include it, nor SmsStatus, which real
 * requests carry but must not be required. Older status callbacks carry SmsStatus alone (`SmsStatus=delivered`): a
 * status other than `received`/`receiving` there makes the webhook a status callback too.
 */
export function parseTwilio(req: RawWebhook): NormalizedEvent[] {
  if (req.contentType !== 'form') {
    // JSON webhooks belong to other Twilio products; they are verified, acknowledged and not stored.
    return [];
  }
  const p = req.form();
  const sid = requireField(
    formValue(p, 'MessageSid') ?? formValue(p, 'SmsMessageSid') ?? formValue(p, 'SmsSid'),
    'MessageSid',
    'Twilio',
  );
  const messageStatus = formValue(p, 'MessageStatus') || undefined;
  const smsStatus = formValue(p, 'SmsStatus') || undefined;
  // MessageStatus says which it is; without it (legacy callbacks carry SmsStatus alone), SmsStatus does, and an
  // inbound message may carry neither.
  const status = messageStatus ?? smsStatus;
  const rawFrom = formValue(p, 'From');
  const rawTo = formValue(p, 'To');
  const whatsapp = (rawFrom?.startsWith(WHATSAPP) ?? false) || (rawTo?.startsWith(WHATSAPP) ?? false);
  const body = formValue(p, 'Body') ?? '';

  // `received`/`receiving` only ever describe an incoming message, never a callback about one we sent.
  if (status === undefined || status === 'received' || status === 'receiving') {
    const media = readMedia(p);
    const channel: Channel = whatsapp ? 'whatsapp' : media.length > 0 ? 'mms' : 'sms';
    return [
      {
        kind: 'inbound_message',
        dedupeKey: `twilio:${sid}:received`,
        provider: 'twilio',
        providerMessageId: sid,
        providerStatus: status ?? 'received',
        channel,
        from: address(requireField(rawFrom, 'From', 'Twilio')),
        to: address(requireField(rawTo, 'To', 'Twilio')),
        cc: [],
        body,
        media,
        segments: asCount(formValue(p, 'NumSegments')),
        encoding: body.length > 0 ? countSegments(body).encoding : null,
        occurredAt: req.receivedAt,
      },
    ];
  }

  const providerStatus = status;
  const errorCode = formValue(p, 'ErrorCode') || null;
  return [
    {
      kind: 'status',
      dedupeKey: `twilio:${sid}:${providerStatus}`,
      provider: 'twilio',
      providerMessageId: sid,
      status: mapTwilioStatus(providerStatus),
      providerStatus,
      errorCode,
      errorMessage: formValue(p, 'ErrorMessage') || null,
      from: rawFrom ? address(rawFrom) : null,
      to: rawTo ? address(rawTo) : null,
      channel: whatsapp ? 'whatsapp' : asCount(formValue(p, 'NumMedia')) ? 'mms' : 'sms',
      body: body || null,
      segments: asCount(formValue(p, 'NumSegments')),
      encoding: null,
      // RawDlrDoneDate is the carrier's delivery time as YYMMDDhhmm: minute precision and no time zone (the
      // offset varies by carrier), so it can read hours before the `sent` it follows. It is kept as the carrier
      // wrote it; the event's time is when it reached us, which keeps a message's history in the order it happened.
      occurredAt: req.receivedAt,
      providerTime: formValue(p, 'RawDlrDoneDate') || null,
      recipientOptedOut: errorCode === OPTED_OUT,
    },
  ];
}

function address(raw: string): string {
  return normalizeAddress(raw.startsWith(WHATSAPP) ? raw.slice(WHATSAPP.length) : raw);
}

function readMedia(p: FormParams): Media[] {
  const count = asCount(formValue(p, 'NumMedia')) ?? 0;
  if (count > MAX_MEDIA) {
    throw new SwitchboardError('invalid_payload', `NumMedia is ${count}; Twilio sends at most ${MAX_MEDIA}.`);
  }
  const media: Media[] = [];
  for (let i = 0; i < count; i++) {
    const url = formValue(p, `MediaUrl${i}`);
    if (url === undefined)
      throw new SwitchboardError('invalid_payload', `NumMedia is ${count} but MediaUrl${i} is missing.`);
    media.push({ url, contentType: formValue(p, `MediaContentType${i}`) ?? null });
  }
  return media;
}
