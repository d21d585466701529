import { randomBytes, randomUUID } from 'node:crypto';
import type { Config } from './config.js';
import { ProviderSimulator } from './simulator/simulator.js';

/** The senders the sandbox gives each carrier when the configuration names none (fictional 555 numbers). */
export const SANDBOX_FROM = { twilio: '+14155550100', telnyx: '+13125550001' } as const;

export interface Sandbox {
  /** The configuration with both carriers pointed at the simulator. */
  config: Config;
  simulator: ProviderSimulator;
}

/**
 * Sandbox mode (no carrier credentials at all): both carriers are played by the built-in simulator, in this
 * process, so a new user can send and see delivery receipts at once without an account.
 *
 * The simulator's credentials are random per start, never the well-known defaults: the gateway verifies webhooks
 * against them, and a fixed secret (it would be in the source) would let anyone forge webhooks into a gateway
 * that was started without credentials by mistake. Likewise its control API (/_sim/*) keeps the random token the
 * simulator makes at start: nothing outside this process needs it, so it is never logged or passed on.
 */
export async function startSandbox(config: Config): Promise<Sandbox> {
  const twilio = {
    accountSid: `AC${randomBytes(16).toString('hex')}`,
    authToken: randomBytes(16).toString('hex'),
  };
  const profileId = randomUUID();
  const telnyx = {
    apiKey: `KEY${randomBytes(24).toString('hex')}`,
    signingSeed: new Uint8Array(randomBytes(32)),
    messagingProfileFrom: { [profileId]: SANDBOX_FROM.telnyx },
  };
  const simulator = await ProviderSimulator.start({ host: '127.0.0.1', port: 0, twilio, telnyx });
  const { providers } = config.sending;
  return {
    simulator,
    config: {
      ...config,
      twilio: { accountSid: twilio.accountSid, authTokens: [twilio.authToken] },
      telnyx: { publicKeys: [simulator.telnyxPublicKey], apiKey: telnyx.apiKey },
      twilioApiBaseUrl: simulator.twilioApiBaseUrl,
      telnyxApiBaseUrl: simulator.telnyxApiBaseUrl,
      sending: {
        ...config.sending,
        providers: {
          ...(providers.twilio && {
            twilio: { ...providers.twilio, from: providers.twilio.from ?? SANDBOX_FROM.twilio },
          }),
          ...(providers.telnyx && {
            telnyx: {
              ...providers.telnyx,
              from: providers.telnyx.from ?? SANDBOX_FROM.telnyx,
              messagingProfileId: providers.telnyx.messagingProfileId ?? profileId,
            },
          }),
        },
      },
    },
  };
}
