import type { ProviderDetector } from '../../core/provider.js';
import type { RawWebhook } from '../../core/webhook.js';
import { formValue } from '../fields.js';

export const twilioDetector: ProviderDetector = {
  id: 'twilio',
  detectByHeader: (req: RawWebhook) => req.header('x-twilio-signature') !== undefined,
  detect(req: RawWebhook): boolean {
    if (this.detectByHeader(req)) return true;
    if (req.contentType !== 'form') return false;
    try {
      const params = req.form();
      const account = formValue(params, 'AccountSid');
      const sid = formValue(params, 'MessageSid') ?? formValue(params, 'SmsSid');
      return account !== undefined && account.startsWith('AC') && sid !== undefined;
    } catch {
      return false;
    }
  },
};
