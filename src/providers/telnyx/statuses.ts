import type { Status } from '../../core/message.js';

/** Every `to[].status` Telnyx documents for messaging. */
export type TelnyxStatus =
  | 'queued'
  | 'sending'
  | 'sent'
  | 'expired'
  | 'sending_failed'
  | 'delivery_unconfirmed'
  | 'delivered'
  | 'delivery_failed'
  | 'webhook_delivered';

/**
 * Telnyx status -> canonical status; a Record over TelnyxStatus, so a missing entry fails to compile.
 * `sending_failed` never left Telnyx (failed); `delivery_failed` and `expired` were handed on but never reached the
 * handset (undelivered); `delivery_unconfirmed` was sent but the carrier gave no receipt, which is all `sent` claims.
 */
const TELNYX_STATUSES: Readonly<Record<TelnyxStatus, Status>> = {
  queued: 'queued',
  sending: 'sending',
  sent: 'sent',
  expired: 'undelivered',
  sending_failed: 'failed',
  delivery_unconfirmed: 'sent',
  delivered: 'delivered',
  delivery_failed: 'undelivered',
  webhook_delivered: 'received',
};

export function mapTelnyxStatus(raw: string): Status | null {
  return Object.hasOwn(TELNYX_STATUSES, raw) ? TELNYX_STATUSES[raw as TelnyxStatus] : null;
}
