import { timingSafeEqual } from 'node:crypto';
import twilio from 'twilio';
import type { Verification } from '../../core/provider.js';
import { SwitchboardError } from '../../core/errors.js';
import type { FormParams, RawWebhook } from '../../core/webhook.js';
import { formValue } from '../fields.js';

/**
 * Checks X-Twilio-Signature with the official SDK, which knows the URL variants Twilio may have signed (with and
 * without the default port, legacy query encoding) and compares in constant time. Every configured token is tried,
 * so webhooks signed with the secondary token keep verifying during a rotation.
 */
export function verifyTwilio(
  req: RawWebhook,
  authTokens: readonly string[],
  accountSid: string,
): Verification {
  const signature = req.header('x-twilio-signature');
  if (signature === undefined || signature === '') {
    return { ok: false, code: 'signature_missing', reason: 'no X-Twilio-Signature header' };
  }
  // JSON webhooks sign the URL only and carry a SHA-256 of the body in the query string.
  const signsBodyHash = req.url.includes('bodySHA256=');
  let params;
  try {
    params = signsBodyHash ? undefined : req.form();
  } catch (err) {
    if (err instanceof SwitchboardError) return { ok: false, code: err.code, reason: err.message };
    throw err;
  }
  const valid = authTokens.some((token) => {
    try {
      if (params === undefined) return twilio.validateRequestWithBody(token, signature, req.url, req.text());
      return (
        signedExactly(token, signature, req.url, params) ||
        twilio.validateRequest(token, signature, req.url, params)
      );
    } catch {
      // The SDK parses the URL with `new URL`, which throws on a URL it cannot parse: that is a mismatch.
      return false;
    }
  });
  if (!valid) return { ok: false, code: 'signature_invalid', reason: 'X-Twilio-Signature does not match' };
  const account = params === undefined ? undefined : formValue(params, 'AccountSid');
  if (account !== undefined && account !== accountSid) {
    return { ok: false, code: 'account_mismatch', reason: 'AccountSid is not the configured account' };
  }
  return { ok: true };
}

/**
 * The URL as rebuilt is almost always exactly the one Twilio signed, so it is checked first: one HMAC computed by the
 * SDK and a constant-time comparison. `validateRequest` starts from the URL without its port, so for a URL with a
 * port it always spends a second HMAC; it still runs, with all its variants, whenever this check fails.
 */
function signedExactly(token: string, signature: string, url: string, params: FormParams): boolean {
  const expected = Buffer.from(twilio.getExpectedTwilioSignature(token, url, params));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
