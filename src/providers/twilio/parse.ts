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

/**
 * Twilio messaging webhooks: an inbound message (SmsStatus `received`) or a status callback for a message sent
 * through Twilio. Twilio adds parameters without notice; unknown ones are ignored here (they were verified).
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
  const providerStatus = requireField(
    formValue(p, 'MessageStatus') ?? formValue(p, 'SmsStatus'),
    'MessageStatus',
    'Twilio',
  );
  const rawFrom = formValue(p, 'From');
  const rawTo = formValue(p, 'To');
  const whatsapp = (rawFrom?.startsWith(WHATSAPP) ?? false) || (rawTo?.startsWith(WHATSAPP) ?? false);
  const body = formValue(p, 'Body') ?? '';

  if (providerStatus === 'received' || providerStatus === 'receiving') {
    const media = readMedia(p);
    const channel: Channel = whatsapp ? 'whatsapp' : media.length > 0 ? 'mms' : 'sms';
    return [
      {
        kind: 'inbound_message',
        dedupeKey: `twilio:${sid}:received`,
        provider: 'twilio',
        providerMessageId: sid,
        providerStatus,
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

  const errorCode = formValue(p, 'ErrorCode');
  return [
    {
      kind: 'status',
      dedupeKey: `twilio:${sid}:${providerStatus}`,
      provider: 'twilio',
      providerMessageId: sid,
      status: mapTwilioStatus(providerStatus),
      providerStatus,
      errorCode: errorCode === undefined || errorCode === '' ? null : errorCode,
      errorMessage: formValue(p, 'ErrorMessage') || null,
      from: rawFrom ? address(rawFrom) : null,
      to: rawTo ? address(rawTo) : null,
      channel: whatsapp ? 'whatsapp' : asCount(formValue(p, 'NumMedia')) ? 'mms' : 'sms',
      body: body || null,
      segments: asCount(formValue(p, 'NumSegments')),
      encoding: null,
      occurredAt: parseDlrDate(formValue(p, 'RawDlrDoneDate')) ?? req.receivedAt,
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

/** RawDlrDoneDate is the carrier's delivery time as YYMMDDhhmm (UTC); null when absent or malformed. */
export function parseDlrDate(raw: string | undefined): number | null {
  const m = raw?.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/);
  if (!m) return null;
  const [, yy, mo, dd, hh, mi] = m.map(Number) as [number, number, number, number, number, number];
  const t = Date.UTC(2000 + yy, mo - 1, dd, hh, mi);
  const d = new Date(t);
  // Reject dates Date.UTC silently rolled over (month 13, day 32...).
  return d.getUTCMonth() === mo - 1 && d.getUTCDate() === dd && hh < 24 && mi < 60 ? t : null;
}
