import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ControlToken } from './control-token.js';
import { validateFaultsPatch } from './faults.js';
import { readBody, writeAnswer, writeJson } from './http-io.js';
import type {
  CallbackStats,
  InboundInput,
  ProviderFaults,
  SimProvider,
  SimulatedMessage,
  SimulatorStats,
} from './types.js';

/** What the control API drives: the ProviderSimulator's own methods. */
export interface ControlTarget {
  messages(provider?: SimProvider): SimulatedMessage[];
  stats(provider: SimProvider): SimulatorStats;
  callbackStats(): CallbackStats;
  faults(provider: SimProvider): ProviderFaults;
  setFaults(provider: SimProvider, faults: Partial<ProviderFaults>): void;
  resetFaults(provider?: SimProvider): void;
  resetRecords(): void;
  setDefaultWebhookUrl(url: string | null): void;
  injectInbound(input: InboundInput): Promise<{ status: number; providerMessageId: string }>;
  config(): Record<string, unknown>;
}

class BadRequest extends Error {}

/**
 * HTTP control for tests that run the gateway in another process. Every route needs the start's control token
 * (`Authorization: Bearer <token>` or `X-Simulator-Token`; 401 otherwise), and every POST a JSON body
 * (`Content-Type: application/json`; 415 otherwise): a web page can post text/plain or a form to any port without
 * a preflight, but it can neither set these headers cross-origin nor know the token.
 *
 * - GET  /_sim/config                   URLs, account SID, Telnyx public key and profile (never the secrets)
 * - GET  /_sim/messages?provider=       accepted sends, in acceptance order
 * - GET  /_sim/stats                    { twilio, telnyx, callbacks }
 * - GET  /_sim/faults                   { twilio, telnyx }
 * - POST /_sim/faults/:provider         JSON Partial<ProviderFaults>, merged into the current faults
 * - POST /_sim/reset                    faults of both carriers, messages and stats back to the start
 * - POST /_sim/inbound                  JSON as injectInbound's input; answers { status, providerMessageId }
 * - POST /_sim/webhook-url              JSON { url: string | null }: the default webhook URL
 */
export async function handleControl(
  target: ControlTarget,
  token: ControlToken,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  try {
    const method = req.method ?? 'GET';
    if (!token.authorizes(req.headers)) {
      // The body is not wanted, but must be read for the connection to be reused.
      req.resume();
      return writeAnswer(res, {
        status: 401,
        body: JSON.stringify({ error: 'the control API needs the simulator control token' }),
        headers: { 'www-authenticate': 'Bearer realm="provider simulator"' },
      });
    }
    if (method === 'POST' && !isJson(req.headers['content-type'])) {
      req.resume();
      return writeJson(res, 415, { error: 'the control API takes Content-Type: application/json only' });
    }
    const route = `${method} ${path}`;
    if (route === 'GET /_sim/config') return writeJson(res, 200, target.config());
    if (route === 'GET /_sim/messages') {
      const provider = new URL(req.url ?? '/', 'http://sim').searchParams.get('provider');
      return writeJson(
        res,
        200,
        target.messages(provider === null || provider === '' ? undefined : asProvider(provider)),
      );
    }
    if (route === 'GET /_sim/stats') {
      return writeJson(res, 200, {
        twilio: target.stats('twilio'),
        telnyx: target.stats('telnyx'),
        callbacks: target.callbackStats(),
      });
    }
    if (route === 'GET /_sim/faults') {
      return writeJson(res, 200, { twilio: target.faults('twilio'), telnyx: target.faults('telnyx') });
    }
    const faultsRoute = /^POST \/_sim\/faults\/([a-z]+)$/.exec(route);
    if (faultsRoute) {
      const provider = asProvider(faultsRoute[1] ?? '');
      target.setFaults(provider, validateFaultsPatch(await readJson(req)));
      return writeJson(res, 200, target.faults(provider));
    }
    if (route === 'POST /_sim/reset') {
      target.resetFaults();
      target.resetRecords();
      return writeJson(res, 200, {});
    }
    if (route === 'POST /_sim/inbound') {
      const input = inboundInput(await readJson(req));
      try {
        return writeJson(res, 200, await target.injectInbound(input));
      } catch (err) {
        return writeJson(res, 502, { error: err instanceof Error ? err.message : String(err) });
      }
    }
    if (route === 'POST /_sim/webhook-url') {
      const body = await readJson(req);
      const url = isRecord(body) ? body.url : undefined;
      if (url !== null && typeof url !== 'string') throw new BadRequest('url must be a string or null');
      target.setDefaultWebhookUrl(url);
      return writeJson(res, 200, {});
    }
    writeJson(res, 404, { error: `no control route ${route}` });
  } catch (err) {
    const bad = err instanceof BadRequest || err instanceof TypeError || err instanceof SyntaxError;
    writeJson(res, bad ? 400 : 500, { error: err instanceof Error ? err.message : String(err) });
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const raw = await readBody(req);
  return raw.length === 0 ? {} : (JSON.parse(raw.toString('utf8')) as unknown);
}

/** application/json, with or without parameters (charset). */
function isJson(contentType: string | undefined): boolean {
  return contentType?.split(';', 1)[0]?.trim().toLowerCase() === 'application/json';
}

function asProvider(value: string): SimProvider {
  if (value === 'twilio' || value === 'telnyx') return value;
  throw new BadRequest(`unknown provider '${value}' (twilio or telnyx)`);
}

function inboundInput(body: unknown): InboundInput {
  if (!isRecord(body)) throw new BadRequest('the inbound message must be a JSON object');
  const { provider, from, to, cc, mediaUrls, webhookUrl } = body;
  const text = body.body;
  if (typeof from !== 'string' || typeof to !== 'string' || typeof text !== 'string')
    throw new BadRequest('from, to and body must be strings');
  if (mediaUrls !== undefined && !(Array.isArray(mediaUrls) && mediaUrls.every((u) => typeof u === 'string')))
    throw new BadRequest('mediaUrls must be an array of strings');
  if (cc !== undefined && !(Array.isArray(cc) && cc.every((n) => typeof n === 'string')))
    throw new BadRequest('cc must be an array of strings');
  if (webhookUrl !== undefined && typeof webhookUrl !== 'string')
    throw new BadRequest('webhookUrl must be a string');
  return {
    provider: asProvider(typeof provider === 'string' ? provider : ''),
    from,
    to,
    body: text,
    ...(cc === undefined ? {} : { cc: cc as string[] }),
    ...(mediaUrls === undefined ? {} : { mediaUrls: mediaUrls as string[] }),
    ...(webhookUrl === undefined ? {} : { webhookUrl }),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
