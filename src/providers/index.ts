import type { Config } from '../config.js';
import type { ProviderId } from '../core/message.js';
import type { Provider, ProviderDetector } from '../core/provider.js';
import { createTelnyxProvider } from './telnyx/adapter.js';
import { telnyxDetector } from './telnyx/detect.js';
import { createTwilioProvider } from './twilio/adapter.js';
import { twilioDetector } from './twilio/detect.js';

/** Every carrier Switchboard knows, in detection order. A new carrier adds one line here and one folder. */
export const DETECTORS: readonly ProviderDetector[] = [twilioDetector, telnyxDetector];

export interface ProviderRegistry {
  detectors: readonly ProviderDetector[];
  /** The configured carriers; a known carrier missing here answers `provider_not_configured`. */
  enabled: ReadonlyMap<ProviderId, Provider>;
  /** One line per carrier for the start-up log: enabled, or how to enable it. */
  summary: string[];
}

export function buildProviders(config: Config, now: () => number = Date.now): ProviderRegistry {
  const enabled = new Map<ProviderId, Provider>();
  const summary: string[] = [];
  const unsafe = config.unsafeSkipWebhookVerification;

  // The unsafe switch turns verification off for every carrier, configured or not: half-verified is a trap.
  if (unsafe) {
    enabled.set('twilio', createTwilioProvider('unverified'));
    enabled.set('telnyx', createTelnyxProvider('unverified', now));
    summary.push(
      'twilio enabled WITHOUT signature verification',
      'telnyx enabled WITHOUT signature verification',
    );
    return { detectors: DETECTORS, enabled, summary };
  }

  if (config.twilio) {
    enabled.set('twilio', createTwilioProvider(config.twilio));
    summary.push(`twilio enabled (${config.twilio.authTokens.length} auth token(s))`);
  } else {
    summary.push('twilio disabled: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to enable it');
  }

  if (config.telnyx) {
    enabled.set('telnyx', createTelnyxProvider(config.telnyx, now));
    summary.push(`telnyx enabled (${config.telnyx.publicKeys.length} public key(s))`);
  } else {
    summary.push('telnyx disabled: set TELNYX_PUBLIC_KEY to enable it');
  }

  return { detectors: DETECTORS, enabled, summary };
}
