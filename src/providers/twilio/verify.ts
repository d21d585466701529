import { createHash, timingSafeEqual } from 'node:crypto';
import twilio from 'twilio';
import type { Verification } from '../../core/provider.js';
import { SwitchboardError } from '../../core/errors.js';
import type { FormParams, RawWebhook } from '../../core/webhook.js';

/**
 * Checks X-Twilio-Signature with the official SDK, which knows the URL variants Twilio may have signed (with and
 * without the default port, legacy query encoding) and compares in constant time. Every configured token is tried,
 * so webhooks signed with the secondary token keep verifying during a rotation.
 *
 * A form webhook (every messaging webhook) is verified over the URL and all its parameters, and must name the
 * configured account in exactly one AccountSid: Twilio always sends it, and a signature re-split so that the
 * parameters start later (the first ones moved into the query string) loses it. A JSON webhook (other Twilio
 * products; acknowledged, never stored) is verified over the URL and the body's SHA-256 (`bodySHA256`).
 *
 * Twilio's signature never expires and does not delimit what it signs, so a form webhook's answer carries the
 * signature as its replay key: the store refuses a signature already stored with other parameters (Store.ingest).
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
  let url: string;
  try {
    url = req.url;
  } catch (err) {
    // Host or X-Forwarded-* cannot make the URL Twilio signed: an answer with its code, never a throw.
    if (err instanceof SwitchboardError) return { ok: false, code: err.code, reason: err.message };
    throw err;
  }
  if (req.contentType === 'json') return verifyJson(req, url, signature, authTokens);

  let params: FormParams;
  try {
    params = req.form();
  } catch (err) {
    if (err instanceof SwitchboardError) return { ok: false, code: err.code, reason: err.message };
    throw err;
  }
  const valid = authTokens.some((token) => {
    try {
      return (
        signedExactly(token, signature, url, params) || twilio.validateRequest(token, signature, url, params)
      );
    } catch {
      // The SDK parses the URL with `new URL`, which throws on a URL it cannot parse: that is a mismatch.
      return false;
    }
  });
  if (!valid) return { ok: false, code: 'signature_invalid', reason: 'X-Twilio-Signature does not match' };
  const account = params.AccountSid;
  if (account === undefined) {
    return { ok: false, code: 'account_mismatch', reason: 'the webhook carries no AccountSid' };
  }
  if (account !== accountSid) {
    return { ok: false, code: 'account_mismatch', reason: 'AccountSid is not the configured account' };
  }
  // The signature was compared exactly, so it is the one string Twilio made for this URL and these parameters: the
  // store remembers it, and refuses it with other parameters (the same signed text re-split).
  return { ok: true, replayKey: signature };
}

/**
 * Twilio's JSON webhooks sign the URL only, with `bodySHA256=<hex SHA-256 of the body>` in its query string (the
 * SDK's validateRequestWithBody). The hash is taken only from a parameter of the request's own query string named
 * exactly `bodySHA256`, present once: the SDK's helpers look for the text anywhere in the URL, or take the first
 * decoded match, which a crafted path or parameter value could supply.
 */
function verifyJson(
  req: RawWebhook,
  url: string,
  signature: string,
  authTokens: readonly string[],
): Verification {
  const expected = bodyHashParameter(url);
  if (expected === null) {
    return {
      ok: false,
      code: 'signature_invalid',
      reason: 'a JSON webhook must carry one bodySHA256 query parameter',
    };
  }
  // The raw bytes, hashed here: the SDK's validateBody re-encodes a decoded string, which changes invalid UTF-8.
  const actual = createHash('sha256').update(req.body).digest();
  const bodyMatches = timingSafeEqual(actual, Buffer.from(expected, 'hex'));
  const urlSigned = authTokens.some((token) => {
    try {
      return twilio.validateRequest(token, signature, url, {});
    } catch {
      return false;
    }
  });
  if (!bodyMatches || !urlSigned) {
    return {
      ok: false,
      code: 'signature_invalid',
      reason: 'X-Twilio-Signature or bodySHA256 does not match',
    };
  }
  return { ok: true };
}

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** The value of the query string's one `bodySHA256` parameter, when it is a SHA-256 in hex; else null. */
export function bodyHashParameter(url: string): string | null {
  const start = url.indexOf('?');
  if (start === -1) return null;
  const end = url.indexOf('#', start);
  const query = url.slice(start + 1, end === -1 ? undefined : end);
  let found: string | null = null;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if ((eq === -1 ? pair : pair.slice(0, eq)) !== 'bodySHA256') continue;
    if (found !== null) return null;
    found = eq === -1 ? '' : pair.slice(eq + 1);
  }
  return found !== null && SHA256_HEX.test(found) ? found : null;
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
