import type { Status } from '../../core/message.js';

/** Every message status Twilio documents. */
export type TwilioStatus =
  | 'accepted'
  | 'scheduled'
  | 'queued'
  | 'sending'
  | 'sent'
  | 'delivered'
  | 'undelivered'
  | 'failed'
  | 'receiving'
  | 'received'
  | 'read'
  | 'partially_delivered'
  | 'canceled';

/**
 * Twilio status -> canonical status. Typed as a Record over TwilioStatus, so a status missing here fails to
 * compile. `partially_delivered` counts as a delivery failure so it is noticed; the event keeps Twilio's own word.
 */
const TWILIO_STATUSES: Readonly<Record<TwilioStatus, Status>> = {
  accepted: 'queued',
  scheduled: 'queued',
  queued: 'queued',
  sending: 'sending',
  sent: 'sent',
  delivered: 'delivered',
  undelivered: 'undelivered',
  failed: 'failed',
  receiving: 'received',
  received: 'received',
  read: 'read',
  partially_delivered: 'undelivered',
  canceled: 'canceled',
};

/** The canonical status, or null for a status Twilio added after this table was written. */
export function mapTwilioStatus(raw: string): Status | null {
  return Object.hasOwn(TWILIO_STATUSES, raw) ? TWILIO_STATUSES[raw as TwilioStatus] : null;
}
