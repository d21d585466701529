import type { HttpReply, Provider } from '../../core/provider.js';
import type { TelnyxConfig } from '../../config.js';
import { parseTelnyx } from './parse.js';
import { TelnyxSignatureVerifier } from './verify.js';

// Telnyx reads only the status code; it cannot carry a reply, which goes out as a new message instead.
const ACK: HttpReply = {
  statusCode: 200,
  contentType: 'application/json; charset=utf-8',
  body: '{"received":true}',
};

/** `unverified`: the operator turned verification off (UNSAFE_SKIP_WEBHOOK_VERIFICATION); see providers/index.ts. */
export function createTelnyxProvider(
  config: TelnyxConfig | 'unverified',
  now: () => number = Date.now,
): Provider {
  const verifier = config === 'unverified' ? null : new TelnyxSignatureVerifier(config.publicKeys, now);
  return {
    id: 'telnyx',
    repliesInline: false,
    verify: (req) =>
      verifier === null
        ? { ok: true }
        : verifier.verify(req.header('telnyx-signature-ed25519'), req.header('telnyx-timestamp'), req.body),
    parse: parseTelnyx,
    webhookResponse: () => ACK,
  };
}
