import type { ProviderDetector } from '../../core/provider.js';
import type { RawWebhook } from '../../core/webhook.js';
import { asObject, asString } from '../fields.js';

export const telnyxDetector: ProviderDetector = {
  id: 'telnyx',
  detectByHeader: (req: RawWebhook) =>
    req.header('telnyx-signature-ed25519') !== undefined || req.header('telnyx-timestamp') !== undefined,
  detect(req: RawWebhook): boolean {
    if (this.detectByHeader(req)) return true;
    if (req.contentType !== 'json') return false;
    try {
      const data = asObject(asObject(req.json())?.data);
      return data !== undefined && asString(data.event_type) !== undefined && data.record_type === 'event';
    } catch {
      return false;
    }
  },
};
