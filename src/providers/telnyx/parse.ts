import type { Channel, Encoding, Media } from '../../core/message.js';
import type { NormalizedEvent, StatusEvent } from '../../core/provider.js';
import { normalizeAddress } from '../../core/phone.js';
import { SwitchboardError } from '../../core/errors.js';
import type { RawWebhook } from '../../core/webhook.js';
import { asArray, asCount, asObject, asString, requireField, type Json } from '../fields.js';
import { mapTelnyxStatus } from './statuses.js';

const STATUS_EVENTS = new Set(['message.sent', 'message.finalized']);
// A group MMS has a handful of recipients; a payload claiming thousands is not believed.
const MAX_RECIPIENTS = 50;

/**
 * Telnyx messaging webhooks: `message.received` becomes one inbound message (the other participants of a group
 * MMS, in `cc` or after our number in `to`, go to `cc`); `message.sent` and `message.finalized` become one status event per recipient in `to[]`. Other event types
 * (calls, numbers...) are verified and acknowledged but not stored.
 */
export function parseTelnyx(req: RawWebhook): NormalizedEvent[] {
  const data = asObject(asObject(req.json())?.data);
  if (!data) throw new SwitchboardError('invalid_payload', 'The Telnyx webhook has no data object.');
  const eventType = requireField(asString(data.event_type), 'data.event_type', 'Telnyx');
  if (eventType !== 'message.received' && !STATUS_EVENTS.has(eventType)) return [];

  const eventId = requireField(asString(data.id), 'data.id', 'Telnyx');
  const payload = asObject(data.payload);
  if (!payload)
    throw new SwitchboardError('invalid_payload', 'The Telnyx webhook has no data.payload object.');
  const messageId = requireField(asString(payload.id), 'data.payload.id', 'Telnyx');
  const occurredAt = parseTime(asString(data.occurred_at)) ?? req.receivedAt;
  const recipients = asArray(payload.to).map(asObject);
  const ccList = asArray(payload.cc).map(asObject);
  if (recipients.length + ccList.length > MAX_RECIPIENTS) {
    throw new SwitchboardError(
      'invalid_payload',
      `The Telnyx webhook lists ${recipients.length + ccList.length} recipients.`,
    );
  }
  // A group MMS names the other participants in `cc` (older payloads put them after ours in `to`): both are read.
  const groupCc = [...recipients.slice(1), ...ccList]
    .map((r) => asString(r?.phone_number))
    .filter((n): n is string => n !== undefined && n !== '')
    .map(normalizeAddress)
    .filter((n, i, all) => all.indexOf(n) === i);
  const from = asString(asObject(payload.from)?.phone_number);
  const text = asString(payload.text) ?? '';
  const media = readMedia(payload);
  const channel: Channel = payload.type === 'MMS' || media.length > 0 ? 'mms' : 'sms';
  const encoding = readEncoding(payload.encoding);
  const segments = asCount(payload.parts);

  if (eventType === 'message.received') {
    const to = recipients.map((r) => asString(r?.phone_number)).filter((n): n is string => n !== undefined);
    const ourNumber = normalizeAddress(requireField(to[0], 'data.payload.to[0].phone_number', 'Telnyx'));
    const sender = normalizeAddress(requireField(from, 'data.payload.from.phone_number', 'Telnyx'));
    return [
      {
        kind: 'inbound_message',
        dedupeKey: `telnyx:${eventId}`,
        provider: 'telnyx',
        providerMessageId: messageId,
        providerStatus: asString(recipients[0]?.status) ?? 'received',
        channel: groupCc.length > 0 ? 'mms' : channel,
        from: sender,
        to: ourNumber,
        cc: groupCc.filter((n) => n !== ourNumber && n !== sender),
        body: text,
        media,
        segments,
        encoding,
        occurredAt,
      },
    ];
  }

  if (recipients.length === 0)
    throw new SwitchboardError('invalid_payload', 'The Telnyx webhook has no recipients.');
  const error = asObject(asArray(payload.errors)[0]);
  const errorCode = error
    ? (asString(error.code) ?? (typeof error.code === 'number' ? String(error.code) : null))
    : null;
  const errorMessage = error
    ? [asString(error.title), asString(error.detail)].filter(Boolean).join(': ') || null
    : null;
  return recipients.map((recipient, i): StatusEvent => {
    const to = asString(recipient?.phone_number);
    const providerStatus = requireField(
      asString(recipient?.status),
      `data.payload.to[${i}].status`,
      'Telnyx',
    );
    return {
      kind: 'status',
      dedupeKey: `telnyx:${eventId}:${to ?? i}`,
      provider: 'telnyx',
      providerMessageId: messageId,
      status: mapTelnyxStatus(providerStatus),
      providerStatus,
      errorCode,
      errorMessage,
      from: from === undefined ? null : normalizeAddress(from),
      to: to === undefined ? null : normalizeAddress(to),
      channel,
      body: text || null,
      segments,
      encoding,
      occurredAt,
      recipientOptedOut: errorCode === '40300' && providerStatus.endsWith('_failed'), // STOP block, this recipient
    };
  });
}

function readMedia(payload: Json): Media[] {
  return asArray(payload.media).flatMap((item) => {
    const m = asObject(item);
    const url = asString(m?.url);
    return url === undefined ? [] : [{ url, contentType: asString(m?.content_type) ?? null }];
  });
}

function readEncoding(value: unknown): Encoding | null {
  return value === 'GSM-7' || value === 'UCS-2' ? value : null;
}

function parseTime(iso: string | undefined): number | null {
  if (iso === undefined) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}
