import { connect } from 'node:net';
import twilio from 'twilio';
import { afterEach, describe, expect, it } from 'vitest';
import {
  formBody,
  signedTelnyx,
  TWILIO_SID,
  telnyxKeys,
  telnyxReceived,
  telnyxStatusEvent,
  TWILIO_TOKEN,
  TWILIO_TOKEN_SECONDARY,
  twilioInbound,
  twilioSignature,
  twilioStatus,
  unique,
} from '../helpers/carriers.js';
import { API_KEY, startGateway, type TestGateway, json } from '../helpers/gateway.js';
import { captureLogs } from '../helpers/log-capture.js';

const keys = telnyxKeys();
let gw: TestGateway;
afterEach(async () => gw?.close());

describe('POST /webhooks with Twilio', () => {
  it('verifies, stores and acknowledges an inbound SMS with an empty TwiML Response', async () => {
    gw = await startGateway();
    const params = twilioInbound({ Body: 'Hello gateway' });
    const res = await gw.postTwilio(params);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(await res.text()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
    const list = await json(await gw.api('/v1/messages'));
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({
      provider: 'twilio',
      providerMessageId: params.MessageSid,
      body: 'Hello gateway',
      status: 'received',
    });
  });

  it('skips detection on /webhooks/twilio and accepts the secondary token', async () => {
    gw = await startGateway({ TWILIO_AUTH_TOKEN: `${TWILIO_TOKEN},${TWILIO_TOKEN_SECONDARY}` });
    const res = await gw.postTwilio(twilioInbound(), '/webhooks/twilio', TWILIO_TOKEN_SECONDARY);
    expect(res.status).toBe(200);
  });

  it('rebuilds the signed URL from PUBLIC_BASE_URL behind a proxy', async () => {
    gw = await startGateway({ PUBLIC_BASE_URL: 'https://sms.example.com/gw' });
    const params = twilioInbound();
    const signature = twilioSignature('https://sms.example.com/gw/webhooks?tenant=a', params);
    const res = await gw.post('/webhooks?tenant=a', {
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body: formBody(params),
    });
    expect(res.status).toBe(200);
  });

  it('rebuilds the signed URL from X-Forwarded-Proto/Host with TRUST_PROXY=true', async () => {
    gw = await startGateway({ TRUST_PROXY: 'true' });
    const params = twilioInbound();
    const signature = twilioSignature('https://public.example.com/webhooks', params);
    const res = await gw.post('/webhooks', {
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signature,
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'public.example.com',
      },
      body: formBody(params),
    });
    expect(res.status).toBe(200);
  });

  it('verifies a Twilio JSON webhook by its bodySHA256, acknowledges it and stores nothing', async () => {
    gw = await startGateway();
    const body = JSON.stringify({ event: 'some.other.product', value: 1 });
    const path = `/webhooks/twilio?bodySHA256=${twilio.getExpectedBodyHash(body)}`;
    const signature = twilio.getExpectedTwilioSignature(TWILIO_TOKEN, gw.base + path, {});
    const send = (b: string) =>
      gw.post(path, {
        headers: { 'content-type': 'application/json', 'x-twilio-signature': signature },
        body: b,
      });
    const ok = await send(body);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('<Response/>');
    expect((await send(body.replace('1', '2'))).status).toBe(403); // the body no longer matches its hash
    expect((await gw.store.listMessages({}, { limit: 10 })).data).toHaveLength(0);
  });

  it('moves an outbound message forward with status callbacks, ignoring a late one', async () => {
    gw = await startGateway();
    const sid = unique('SM');
    // `sending` arrives after `delivered` (callbacks are unordered); `delivered` again is a retry (same SID + status).
    for (const s of ['sent', 'delivered', 'sending', 'delivered']) {
      expect((await gw.postTwilio(twilioStatus(sid, s))).status).toBe(200);
    }
    const list = await json(await gw.api('/v1/messages?direction=outbound'));
    const message = await json(await gw.api(`/v1/messages/${list.data[0].id}`));
    expect(message.status).toBe('delivered');
    expect(message.events.map((e: { providerStatus: string }) => e.providerStatus)).toEqual([
      'sent',
      'delivered',
      'sending',
    ]);
  });

  it('keeps and logs a status Twilio added after the status table was written', async () => {
    const logs = captureLogs();
    gw = await startGateway({}, { logger: logs.logger });
    const sid = unique('SM');
    await gw.postTwilio(twilioStatus(sid, 'sent'));
    expect((await gw.postTwilio(twilioStatus(sid, 'beamed_to_orbit'))).status).toBe(200);
    const [message] = (await gw.store.listMessages({ provider: 'twilio' }, { limit: 1 })).data;
    expect(message?.status).toBe('sent');
    const full = await gw.store.getMessage(message!.id);
    expect(full?.events.at(-1)).toMatchObject({ status: null, providerStatus: 'beamed_to_orbit' });
    expect(logs.lines).toContainEqual(
      expect.objectContaining({
        level: 40,
        provider: 'twilio',
        providerStatus: 'beamed_to_orbit',
        messageId: message!.id,
      }),
    );
  });

  it('acknowledges a duplicate delivery without storing it twice', async () => {
    gw = await startGateway();
    const params = twilioInbound();
    expect((await gw.postTwilio(params)).status).toBe(200);
    expect((await gw.postTwilio(params)).status).toBe(200);
    const list = await json(await gw.api('/v1/messages'));
    expect(list.data).toHaveLength(1);
    const message = await json(await gw.api(`/v1/messages/${list.data[0].id}`));
    expect(message.events).toHaveLength(1);
  });
});

/**
 * A POST written on a socket, for what fetch cannot send: a Host of our choosing, or none at all (HTTP/1.0).
 * Answers the status and the body. The socket is not half-closed after the request: the gateway takes that for a
 * client gone and answers nothing; `connection: close` makes the server close it after the answer.
 */
function rawPost(
  base: string,
  path: string,
  headers: Record<string, string>,
  body: string,
  version: '1.0' | '1.1' = '1.1',
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  const lines = [
    `POST ${path} HTTP/${version}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
  ];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () =>
      socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`),
    );
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1]);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

/** POSTs Twilio form parameters with a given signature and headers. */
function postSigned(
  path: string,
  params: Record<string, string | string[]>,
  signature: string,
  headers: Record<string, string> = {},
) {
  return gw.post(path, {
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signature,
      ...headers,
    },
    body: formBody(params),
  });
}

/** What Twilio's signature covers: the URL, then every parameter as name + value, names sorted. */
const signedString = (url: string, params: Record<string, string>) =>
  Object.keys(params)
    .sort()
    .reduce((acc, key) => acc + key + params[key], url);

describe('forged Twilio webhooks made from a captured signature', () => {
  const victim = '+14155550166';
  const ours = '+14155550100';

  /**
   * A real inbound message, signed by Twilio for https://a.example.com/webhooks, whose Body the attacker chose (they
   * texted our number). Its signed string is re-split into another request with the same signature: most of the
   * signed URL and the first parameters move into X-Forwarded-Host, the Body's text becomes the path, query and the
   * parameters of a STOP "from" the victim, and a last parameter swallows the rest.
   */
  function resplitStop() {
    const forged: Record<string, string> = {
      AccountSid: TWILIO_SID,
      Body: 'STOP',
      From: victim,
      MessageSid: unique('SM'),
      SmsStatus: 'received',
      To: ours,
    };
    const body = `x/webhooks?x=${signedString('', forged)}zz`;
    const captured = twilioInbound({ From: '+14155550177', To: ours, Body: body });
    const url = 'https://a.example.com/webhooks';
    const signature = twilioSignature(url, captured);
    const signed = signedString(url, captured);
    const split = signed.indexOf('/webhooks?x=AccountSid');
    const path = '/webhooks?x=';
    const host = signed.slice('https://'.length, split);
    const rest = signed.slice(split + path.length + signedString('', forged).length + 'zz'.length);
    const params = { ...forged, zz: rest };
    // The same signed string, so the same signature: what made the forgery work.
    expect(signedString(`https://${host}${path}`, params)).toBe(signed);
    expect(twilioSignature(`https://${host}${path}`, params)).toBe(signature);
    return { path, host, params, signature };
  }

  const nothingStored = async () => {
    expect((await gw.store.listMessages({}, { limit: 10 })).data).toHaveLength(0);
    expect(await gw.store.isOptedOut(victim, ours)).toBe(false);
  };

  it('refuses a STOP re-split into X-Forwarded-Host behind a trusted proxy (400), storing nothing', async () => {
    gw = await startGateway({ TRUST_PROXY: 'true' });
    const { path, host, params, signature } = resplitStop();
    const res = await postSigned(path, params, signature, {
      'x-forwarded-proto': 'https',
      'x-forwarded-host': host,
    });
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe('invalid_forwarded_header');
    await nothingStored();
  });

  it('refuses the same forgery with PUBLIC_BASE_URL set: forwarded headers are not read (403)', async () => {
    gw = await startGateway({ PUBLIC_BASE_URL: 'https://a.example.com' });
    const { path, host, params, signature } = resplitStop();
    const res = await postSigned(path, params, signature, {
      'x-forwarded-proto': 'https',
      'x-forwarded-host': host,
    });
    expect(res.status).toBe(403);
    expect((await json(res)).error.code).toBe('signature_invalid');
    await nothingStored();
  });

  it('refuses a re-split that moves the first parameters (AccountSid) into the query string (403)', async () => {
    // Twilio was given a URL with a query string; the forged request keeps the signed URL and moves AccountSid and
    // ApiVersion into its query, so the parameters start at a Body the attacker chose: a STOP from the victim.
    gw = await startGateway({ PUBLIC_BASE_URL: 'https://a.example.com' });
    const forged: Record<string, string> = {
      Body: 'STOP',
      From: victim,
      MessageSid: unique('SM'),
      SmsStatus: 'received',
      To: ours,
    };
    const captured = twilioInbound({
      From: '+14155550177',
      To: ours,
      Body: `${signedString('', forged).slice('Body'.length)}zz`,
    });
    const url = 'https://a.example.com/webhooks?x=1';
    const signature = twilioSignature(url, captured);
    const signed = signedString(url, captured);
    const bodyAt = signed.indexOf('BodySTOP');
    const query = signed.slice('https://a.example.com'.length, bodyAt);
    const params = { ...forged, zz: signed.slice(bodyAt + signedString('', forged).length + 2) };
    expect(twilioSignature(`https://a.example.com${query}`, params)).toBe(signature);
    const res = await postSigned(query, params, signature);
    expect(res.status).toBe(403);
    expect((await json(res)).error.code).toBe('account_mismatch');
    await nothingStored();
  });

  it('refuses a STOP re-split from a signed request already received, without a query string (403)', async () => {
    // The attacker texts our number a Body that, run together with the names after it, reads as other parameters:
    // Body=STOP, From=victim, a new MessageSid (so dedupe does not catch it), and MessageSidZ swallowing the rest.
    // The URL and the host are ours, AccountSid is there once: only remembering the signature stops it.
    gw = await startGateway({ PUBLIC_BASE_URL: 'https://a.example.com', TRUST_PROXY: 'false' });
    const fakeSid = unique('SM');
    const captured = twilioInbound({
      From: '+14155550177',
      To: ours,
      Body: `STOPFrom${victim}MessageSid${fakeSid}MessageSidZ`,
    });
    const url = 'https://a.example.com/webhooks';
    const signature = twilioSignature(url, captured);
    const signed = signedString(url, captured);
    const forged: Record<string, string> = {
      AccountSid: TWILIO_SID,
      ApiVersion: captured.ApiVersion!,
      Body: 'STOP',
      From: victim,
      MessageSid: fakeSid,
      MessageSidZ: signed.slice(signed.indexOf(`From${captured.From}`), signed.indexOf(`To${ours}`)),
      To: ours,
      ToCity: captured.ToCity!,
      ToCountry: captured.ToCountry!,
      ToState: captured.ToState!,
      ToZip: captured.ToZip!,
    };
    expect(twilioSignature(url, forged)).toBe(signature);

    expect((await postSigned('/webhooks', captured, signature)).status).toBe(200);
    const res = await postSigned('/webhooks', forged, signature);
    expect(res.status).toBe(403);
    expect((await json(res)).error.code).toBe('signature_replayed');
    expect(await gw.store.isOptedOut(victim, ours)).toBe(false);
    const stored = (await gw.store.listMessages({}, { limit: 10 })).data;
    expect(stored.map((m) => m.providerMessageId)).toEqual([captured.MessageSid]);
    // Twilio's own retry of the real request (same parameters, same signature) is still a plain duplicate.
    expect((await postSigned('/webhooks', captured, signature)).status).toBe(200);
    expect((await gw.store.listMessages({}, { limit: 10 })).data).toHaveLength(1);
  });

  it('refuses a correctly signed webhook without AccountSid (403 account_mismatch)', async () => {
    gw = await startGateway();
    const { AccountSid: _sid, ...params } = twilioInbound();
    const res = await gw.postTwilio(params);
    expect(res.status).toBe(403);
    expect((await json(res)).error.code).toBe('account_mismatch');
    await nothingStored();
  });
});

describe('TRUST_PROXY: X-Forwarded-Proto and X-Forwarded-Host', () => {
  const params = () => twilioInbound();

  it('refuses a host that is not host[:port] and a scheme other than http(s): 400, nothing stored', async () => {
    gw = await startGateway({ TRUST_PROXY: 'true' });
    const cases: [string, Record<string, string>][] = [
      ['a path', { 'x-forwarded-host': 'public.example.com/webhooks' }],
      ['user info', { 'x-forwarded-host': 'user@public.example.com' }],
      ['a space', { 'x-forwarded-host': 'public.example.com x' }],
      ['a query', { 'x-forwarded-host': 'public.example.com?x=1' }],
      ['a bad port', { 'x-forwarded-host': 'public.example.com:99999' }],
      ['an empty last value', { 'x-forwarded-host': 'public.example.com, ' }],
      ['a bad last value after a good one', { 'x-forwarded-host': 'public.example.com, evil.example.com/x' }],
      ['another scheme', { 'x-forwarded-proto': 'ftp' }],
      ['a scheme with more', { 'x-forwarded-proto': 'https://evil' }],
      ['another scheme last', { 'x-forwarded-proto': 'https, ftp' }],
    ];
    for (const [what, headers] of cases) {
      const p = params();
      const res = await postSigned('/webhooks', p, twilioSignature(`${gw.base}/webhooks`, p), headers);
      expect(res.status, what).toBe(400);
      expect((await json(res)).error.code, what).toBe('invalid_forwarded_header');
    }
    expect((await gw.store.listMessages({}, { limit: 10 })).data).toHaveLength(0);
  });

  it('takes the last of several values, the one the proxy appended, and a host with a port', async () => {
    gw = await startGateway({ TRUST_PROXY: 'true' });
    const p = params();
    const signature = twilioSignature('https://public.example.com:8443/webhooks', p);
    const res = await postSigned('/webhooks', p, signature, {
      'x-forwarded-proto': 'http, HTTPS',
      'x-forwarded-host': 'evil.example.com , public.example.com:8443 ',
    });
    expect(res.status).toBe(200);
    // The values a client wrote before the proxy's own are never the URL checked.
    const q = params();
    const forged = await postSigned('/webhooks', q, twilioSignature('http://evil.example.com/webhooks', q), {
      'x-forwarded-proto': 'http, https',
      'x-forwarded-host': 'evil.example.com, public.example.com',
    });
    expect(forged.status).toBe(403);
    expect((await json(forged)).error.code).toBe('signature_invalid');
    expect((await gw.store.listMessages({}, { limit: 10 })).data).toHaveLength(1);
  });

  it('accepts host names with underscores or a final dot in Host and X-Forwarded-Host', async () => {
    gw = await startGateway({ TRUST_PROXY: 'true' });
    for (const host of ['switchboard_backend:3000', 'sms.example.com.']) {
      const p = params();
      const viaProxy = await postSigned('/webhooks', p, twilioSignature(`https://${host}/webhooks`, p), {
        'x-forwarded-proto': 'https',
        'x-forwarded-host': host,
      });
      expect(viaProxy.status, host).toBe(200);
      // No X-Forwarded-Host: the proxy passed its upstream's name in Host.
      const r = params();
      const direct = await rawPost(
        gw.base,
        '/webhooks',
        {
          host,
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': twilioSignature(`http://${host}/webhooks`, r),
        },
        formBody(r),
      );
      expect(direct.status, host).toBe(200);
    }
    expect((await gw.store.listMessages({}, { limit: 10 })).data).toHaveLength(4);
  });

  it('refuses a Twilio webhook whose URL cannot be rebuilt (no Host) with 400 invalid_request', async () => {
    gw = await startGateway({ TRUST_PROXY: 'true' });
    const p = params();
    const res = await rawPost(
      gw.base,
      '/webhooks',
      { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'any' },
      formBody(p),
      '1.0',
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error.code).toBe('invalid_request');
    expect((await gw.store.listMessages({}, { limit: 10 })).data).toHaveLength(0);
  });

  it('ignores X-Forwarded-* without TRUST_PROXY (the sandbox, rebuilding from Host)', async () => {
    gw = await startGateway({ TWILIO_ACCOUNT_SID: '', TWILIO_AUTH_TOKEN: '', TRUST_PROXY: '' });
    const sim = gw.app.gateway.simulator!;
    const { accountSid, authToken } = sim.twilioCredentials;
    const p = twilioInbound({ AccountSid: accountSid });
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example.com' };
    const forProxy = twilioSignature('https://public.example.com/webhooks', p, authToken);
    expect((await postSigned('/webhooks', p, forProxy, forwarded)).status).toBe(403);
    const forHost = twilioSignature(`${gw.base}/webhooks`, p, authToken);
    expect((await postSigned('/webhooks', p, forHost, forwarded)).status).toBe(200);
  });
});

describe('Twilio webhooks as documented', () => {
  it('verifies a form webhook whose URL holds "bodySHA256=" in a parameter value over its parameters', async () => {
    gw = await startGateway();
    const p = twilioInbound({ Body: 'form with a hash-looking query' });
    const path = `/webhooks?ref=bodySHA256%3D${'0'.repeat(64)}&bodySHA256=${'1'.repeat(64)}`;
    const res = await postSigned(path, p, twilioSignature(gw.base + path, p));
    expect(res.status).toBe(200);
    expect((await gw.store.listMessages({}, { limit: 10 })).data).toHaveLength(1);
  });

  it('takes a legacy status callback with SmsStatus alone (no MessageStatus) as a status, not a message', async () => {
    gw = await startGateway();
    const sid = unique('SM');
    expect((await gw.postTwilio(twilioStatus(sid, 'sent'))).status).toBe(200);
    const { MessageStatus: _delivered, ...delivered } = twilioStatus(sid, 'delivered');
    expect((await gw.postTwilio(delivered)).status).toBe(200);
    // For a message this gateway never saw: recorded as an outbound message, as with MessageStatus.
    const other = unique('SM');
    const { MessageStatus: _failed, ...failed } = twilioStatus(other, 'undelivered', { ErrorCode: '30003' });
    expect((await gw.postTwilio(failed)).status).toBe(200);
    const messages = (await gw.store.listMessages({}, { limit: 10 })).data;
    expect(messages.map((m) => [m.providerMessageId, m.direction, m.status, m.errorCode]).sort()).toEqual(
      [
        [sid, 'outbound', 'delivered', null],
        [other, 'outbound', 'undelivered', '30003'],
      ].sort(),
    );
  });

  it('stores an inbound message sent with only the documented parameters (no SmsStatus)', async () => {
    gw = await startGateway();
    const sid = unique('SM');
    const res = await gw.postTwilio({
      MessageSid: sid,
      SmsSid: sid,
      SmsMessageSid: sid,
      AccountSid: TWILIO_SID,
      MessagingServiceSid: `MG${'6'.repeat(32)}`,
      From: '+14155550155',
      To: '+14155550100',
      Body: 'documented only',
      NumMedia: '0',
      NumSegments: '1',
    });
    expect(res.status).toBe(200);
    const [message] = (await gw.store.listMessages({}, { limit: 10 })).data;
    expect(message).toMatchObject({ direction: 'inbound', status: 'received', body: 'documented only' });
  });

  it.each([
    ['hours in the past', -5],
    ['hours in the future', 5],
  ])(
    'keeps the history in order when delivered carries a RawDlrDoneDate %s, and shows the raw value',
    async (_when, hours) => {
      gw = await startGateway();
      const sid = unique('SM');
      const before = Date.now();
      expect((await gw.postTwilio(twilioStatus(sid, 'sent'))).status).toBe(200);
      const done = new Date(Date.now() + hours * 3_600_000);
      const raw = [
        done.getUTCFullYear() % 100,
        done.getUTCMonth() + 1,
        done.getUTCDate(),
        done.getUTCHours(),
        done.getUTCMinutes(),
      ]
        .map((n) => String(n).padStart(2, '0'))
        .join('');
      const delivered = twilioStatus(sid, 'delivered', { RawDlrDoneDate: raw });
      expect((await gw.postTwilio(delivered)).status).toBe(200);
      const after = Date.now();
      const [listed] = (await json(await gw.api('/v1/messages?direction=outbound'))).data;
      const message = await json(await gw.api(`/v1/messages/${listed.id}`));
      expect(message.status).toBe('delivered');
      const [sent, dlr] = message.events;
      expect(sent).toMatchObject({ providerStatus: 'sent', providerTime: null });
      expect(dlr).toMatchObject({ providerStatus: 'delivered', providerTime: raw });
      const times = [Date.parse(sent.occurredAt), Date.parse(dlr.occurredAt)];
      expect(times[1]).toBeGreaterThanOrEqual(times[0]!);
      for (const t of times) {
        expect(t).toBeGreaterThanOrEqual(before);
        expect(t).toBeLessThanOrEqual(after);
      }
    },
  );
});

describe('opt-outs reported in failure receipts', () => {
  const sendFrom = (from: string, to: string) =>
    fetch(`${gw.base}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to, from, body: 'are you there?' }),
    });

  it('records a Twilio failed receipt with 21610: a later send to that recipient from that sender is refused', async () => {
    gw = await startGateway({ TWILIO_FROM: '+14155550100' });
    const receipt = twilioStatus(unique('SM'), 'failed', {
      From: '+14155550100',
      To: '+14155550188',
      ErrorCode: '21610',
      ErrorMessage: 'Attempt to send to unsubscribed recipient',
    });
    expect((await gw.postTwilio(receipt)).status).toBe(200);
    const refused = await sendFrom('+14155550100', '+14155550188');
    expect(refused.status).toBe(422);
    expect((await json(refused)).error.code).toBe('recipient_opted_out');
    // Only that pair: another recipient, and another of our numbers, may still write.
    expect((await sendFrom('+14155550100', '+14155550189')).status).toBe(202);
    expect((await sendFrom('+14155550199', '+14155550188')).status).toBe(202);
  });

  it('records a Telnyx message.finalized with 40300 the same way', async () => {
    gw = await startGateway({ TELNYX_PUBLIC_KEY: keys.publicKey, TWILIO_FROM: '+14155550100' });
    const finalized = telnyxStatusEvent(
      'message.finalized',
      crypto.randomUUID(),
      [
        { phone: '+13125550102', status: 'sending_failed' },
        { phone: '+13125550103', status: 'delivered' },
      ],
      [{ code: '40300', title: 'Blocked due to STOP message' }],
    );
    expect((await gw.postTelnyx(keys, finalized)).status).toBe(200);
    // The error is the message's; only the recipient it failed for opted out.
    expect(await gw.store.isOptedOut('+13125550103', '+13125550001')).toBe(false);
    // The receipt's sender is our Telnyx number +13125550001.
    const refused = await sendFrom('+13125550001', '+13125550102');
    expect(refused.status).toBe(422);
    expect((await json(refused)).error.code).toBe('recipient_opted_out');
  });

  it('records nothing for other failure codes', async () => {
    gw = await startGateway({ TWILIO_FROM: '+14155550100' });
    const receipt = twilioStatus(unique('SM'), 'undelivered', {
      From: '+14155550100',
      To: '+14155550187',
      ErrorCode: '30003',
    });
    expect((await gw.postTwilio(receipt)).status).toBe(200);
    expect(await gw.store.isOptedOut('+14155550187', '+14155550100')).toBe(false);
  });
});

describe('POST /webhooks with Telnyx', () => {
  it('verifies, stores and acknowledges message.received with JSON', async () => {
    gw = await startGateway({ TELNYX_PUBLIC_KEY: keys.publicKey });
    const body = telnyxReceived({ text: 'Hi Telnyx' });
    const res = await gw.postTelnyx(keys, body);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const list = await json(await gw.api('/v1/messages?provider=telnyx'));
    expect(list.data[0]).toMatchObject({
      body: 'Hi Telnyx',
      from: '+13125550001',
      to: '+17735550002',
      status: 'received',
    });
  });

  it('applies message.sent then message.finalized per recipient, and keeps the error code', async () => {
    gw = await startGateway({ TELNYX_PUBLIC_KEY: keys.publicKey });
    const id = crypto.randomUUID();
    await gw.postTelnyx(
      keys,
      telnyxStatusEvent('message.sent', id, [{ phone: '+13125550002', status: 'sent' }]),
      '/webhooks/telnyx',
    );
    const failed = telnyxStatusEvent(
      'message.finalized',
      id,
      [{ phone: '+13125550002', status: 'delivery_failed' }],
      [{ code: '40300', title: 'Blocked due to STOP' }],
    );
    expect((await gw.postTelnyx(keys, failed)).status).toBe(200);
    const list = await json(await gw.api('/v1/messages?provider=telnyx'));
    expect(list.data[0]).toMatchObject({ status: 'undelivered', errorCode: '40300', providerMessageId: id });
  });

  it('acknowledges and does not store event types it does not handle', async () => {
    gw = await startGateway({ TELNYX_PUBLIC_KEY: keys.publicKey });
    const res = await gw.postTelnyx(keys, {
      data: { event_type: 'call.initiated', id: 'c1', record_type: 'event', payload: {} },
    });
    expect(res.status).toBe(200);
    expect((await json(await gw.api('/v1/messages'))).data).toHaveLength(0);
  });

  it('accepts message.received whatever the Host: Telnyx signs no URL, and needs no PUBLIC_BASE_URL', async () => {
    gw = await startGateway({
      TWILIO_ACCOUNT_SID: '',
      TWILIO_AUTH_TOKEN: '',
      TRUST_PROXY: '',
      TELNYX_PUBLIC_KEY: keys.publicKey,
    });
    const hosts: [string | null, '1.0' | '1.1'][] = [
      ['switchboard_backend:3000', '1.1'], // nginx's upstream name
      ['sms.example.com.', '1.1'], // fully qualified
      ['bad host/with a path', '1.1'],
      [null, '1.0'], // HTTP/1.0 needs no Host
    ];
    for (const [host, version] of hosts) {
      const signed = signedTelnyx(keys, telnyxReceived());
      const res = await rawPost(
        gw.base,
        '/webhooks',
        { ...signed.headers, ...(host !== null && { host }) },
        signed.body,
        version,
      );
      expect(res.status, String(host)).toBe(200);
    }
    expect((await gw.store.listMessages({}, { limit: 10 })).data).toHaveLength(hosts.length);
  });

  it('acknowledges a retried event (same data.id) once', async () => {
    gw = await startGateway({ TELNYX_PUBLIC_KEY: keys.publicKey });
    const body = telnyxReceived();
    await gw.postTelnyx(keys, body);
    await gw.postTelnyx(keys, { ...body, meta: { attempt: 2, delivered_to: 'x' } });
    expect((await json(await gw.api('/v1/messages'))).data).toHaveLength(1);
  });
});
