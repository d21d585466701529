import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiKey } from '../../src/core/api-keys.js';
import { SERIES_COLORS } from '../../src/dashboard/client-script.js';
import { newSecret, TestApp } from '../helpers/app-server.js';
import { API_KEY, json } from '../helpers/gateway.js';
import { startSendGateway, TELNYX_FROM, TWILIO_FROM, type SendGateway } from '../helpers/send-gateway.js';
import { until } from '../helpers/wait.js';

// The dashboard end to end: a real gateway and the provider simulator on loopback, traffic through both carriers
// (sends, receipts, a send failure, inbound messages, event deliveries to an app that answers 500), then Debian's
// Chromium driven by playwright-core: sign-in, data on the page, a message's history, a conversation, live updates
// over server-sent events, a screenshot that shows the chart, escaping of hostile bodies, sign-out and revocation.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  // Without these Chromium reaches for Google's services, and on a closed network its connections are refused.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const CUSTOMER = '+14155550123';
const FAILING = '+14155550199';
const TELNYX_CUSTOMER = '+13125550999';
const HOSTILE = '<img src=x onerror=alert(1)>';

let gw: SendGateway;
let app: TestApp;
let browser: Browser;
let readKey: string;
let sendKey: string;
let revocableKey: { key: string; id: string };
/** The signed-in page the tests share (one session, like an operator's tab). */
let context: BrowserContext;
let page: Page;
let dialogs = 0;
const pageErrors: string[] = [];
let closed = false;

async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium was not found at ${CHROMIUM}. The dashboard test drives a real browser: install Debian's ` +
        '`chromium` package (apt-get install chromium) or set CHROMIUM_PATH to a Chromium executable.',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

async function sendVia(body: Record<string, unknown>): Promise<string> {
  const res = await gw.send(body);
  expect(res.status).toBe(202);
  return ((await json(res)) as { id: string }).id;
}

const text = (p: Page, testid: string) => p.getByTestId(testid).first().textContent();

/** Waits until the element with this test id reads `expected` (or, given a function, satisfies it). */
async function waitForText(
  p: Page,
  testid: string,
  expected: string | ((text: string) => boolean),
  timeoutMs = 8000,
): Promise<void> {
  const ok = typeof expected === 'string' ? (t: string) => t === expected : expected;
  await until(
    async () => ok((await p.getByTestId(testid).first().textContent({ timeout: timeoutMs })) ?? ''),
    timeoutMs,
    `${testid} to read ${String(expected)}`,
  );
}

/** Each element's attribute and the text of its child matching `selector` (or its own). */
async function listOf(p: Page, testid: string, attribute: string, selector?: string) {
  const out: [string | null, string | null][] = [];
  for (const el of await p.getByTestId(testid).all()) {
    const target = selector === undefined ? el : el.locator(selector);
    out.push([await el.getAttribute(attribute), await target.textContent()]);
  }
  return out;
}

function decode(png: Buffer): PNG {
  return PNG.sync.read(png);
}

/** Pixels within `tolerance` (per channel) of a #rrggbb colour. */
function pixelsNear(image: PNG, hex: string, tolerance = 24): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  let count = 0;
  for (let i = 0; i < image.data.length; i += 4) {
    const d = image.data;
    if (
      Math.abs(d[i]! - r) <= tolerance &&
      Math.abs(d[i + 1]! - g) <= tolerance &&
      Math.abs(d[i + 2]! - b) <= tolerance
    )
      count++;
  }
  return count;
}

async function signIn(key: string): Promise<Response> {
  return fetch(`${gw.base}/dashboard/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key }),
  });
}

/** The `name=value` of a Set-Cookie header, to send back as Cookie. */
const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';

beforeAll(async () => {
  const launching = launchBrowser();
  // Keep a failed launch from being an unhandled rejection while the gateway starts; awaited below.
  launching.catch(() => undefined);
  app = await TestApp.start();
  app.answer(() => ({ status: 500 }));
  gw = await startSendGateway({
    env: {
      APP_WEBHOOK_URL: `${app.url}/events`,
      APP_WEBHOOK_SECRET: newSecret(),
      APP_WEBHOOK_RETRY_SCHEDULE: '50ms',
      APP_WEBHOOK_EVENTS: 'message.received',
    },
  });
  const read = newApiKey('dashboard reader', ['read'], null, Date.now());
  const send = newApiKey('sender', ['send'], null, Date.now());
  const revocable = newApiKey('revocable', ['read'], null, Date.now());
  for (const k of [read, send, revocable]) await gw.store.createApiKey(k.record);
  readKey = read.key;
  sendKey = send.key;
  revocableKey = { key: revocable.key, id: revocable.record.id };

  // Traffic through both carriers. Twilio: two delivered, one refused for good (21211); Telnyx: two delivered.
  gw.sim.setFaults('twilio', { recipientErrors: { [FAILING]: '21211' } });
  const first = await sendVia({ to: CUSTOMER, body: 'hello 1' });
  await gw.waitForStatus(first, 'delivered');
  const reply = await gw.sim.injectInbound({
    provider: 'twilio',
    from: CUSTOMER,
    to: TWILIO_FROM,
    body: 'reply from customer',
    webhookUrl: `${gw.base}/webhooks`,
  });
  expect(reply.status).toBe(200);
  await until(async () => (await gw.store.listMessages({ from: CUSTOMER }, { limit: 5 })).data.length === 1);
  const second = await sendVia({ to: CUSTOMER, body: 'hello 2' });
  const failed = await sendVia({ to: FAILING, body: 'never arrives' });
  const telnyx = await Promise.all([
    sendVia({ to: TELNYX_CUSTOMER, body: 'hi from telnyx', provider: 'telnyx' }),
    sendVia({ to: TELNYX_CUSTOMER, body: HOSTILE, provider: 'telnyx' }),
  ]);
  const telnyxInbound = await gw.sim.injectInbound({
    provider: 'telnyx',
    from: TELNYX_CUSTOMER,
    to: TELNYX_FROM,
    body: 'telnyx inbound',
    webhookUrl: `${gw.base}/webhooks`,
  });
  expect(telnyxInbound.status).toBe(200);
  await Promise.all([
    gw.waitForStatus(second, 'delivered'),
    gw.waitForStatus(failed, 'failed'),
    ...telnyx.map((id) => gw.waitForStatus(id, 'delivered')),
  ]);
  // Both inbound messages' events: refused (500), retried once, dead.
  await until(
    async () => (await gw.store.listEvents({ state: 'dead' }, { limit: 10 })).data.length === 2,
    5000,
    'two dead event deliveries',
  );

  browser = await launching;
  context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('dialog', (dialog) => {
    dialogs += 1;
    void dialog.dismiss();
  });
}, 30_000);

afterAll(async () => {
  // Script errors on the shared page would have made some test fail in a confusing way; say so plainly.
  expect(pageErrors).toEqual([]);
  if (!closed) await gw?.close();
  await app?.close();
  await browser?.close();
});

describe('dashboard access', () => {
  it('shows the sign-in page without a session, and refuses a wrong key and a send-only key', async () => {
    const res = await page.goto(`${gw.base}/dashboard`);
    expect(res?.status()).toBe(401);
    expect(res?.headers()['content-security-policy']).toContain("default-src 'self'");
    await page.getByTestId('login').waitFor();

    await page.fill('#login-key', 'not-a-key-0123456789');
    await page.click('#login-submit');
    await waitForText(page, 'login-error', 'The API key is not valid (unknown or revoked).');

    await page.fill('#login-key', sendKey);
    await page.click('#login-submit');
    await waitForText(page, 'login-error', (t) => t.includes('needs "read"'));
    expect(await context.cookies()).toEqual([]);
  });

  it('answers data requests without credentials, or with the wrong ones, with the standard errors', async () => {
    const noAuth = await fetch(`${gw.base}/dashboard/api/snapshot`);
    expect(noAuth.status).toBe(401);
    expect((await json(noAuth)).error.code).toBe('unauthorized');
    const stream = await fetch(`${gw.base}/dashboard/stream`);
    expect(stream.status).toBe(401);
    expect((await json(stream)).error.code).toBe('unauthorized');
    const sendOnly = await gw.api('/dashboard/api/snapshot', sendKey);
    expect(sendOnly.status).toBe(403);
    expect((await json(sendOnly)).error.code).toBe('insufficient_scope');
    expect((await signIn(sendKey)).status).toBe(403);
    const wrong = await signIn('not-a-key-0123456789');
    expect(wrong.status).toBe(401);
    expect((await json(wrong)).error.code).toBe('unauthorized');
    const empty = await fetch(`${gw.base}/dashboard/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(empty.status).toBe(400);
    expect((await json(empty)).error.code).toBe('invalid_request');
    const forged = await fetch(`${gw.base}/dashboard/api/snapshot`, {
      headers: { cookie: 'switchboard_session=forged' },
    });
    expect(forged.status).toBe(401);

    // A bearer key with the read scope works without a session (scripts, curl).
    const bearer = await gw.api('/dashboard/api/snapshot', readKey);
    expect(bearer.status).toBe(200);
    expect((await json(bearer)).providers.map((p: { provider: string }) => p.provider)).toEqual([
      'twilio',
      'telnyx',
    ]);
    const badNumber = await gw.api('/dashboard/api/conversation?number=not-a-number!', readKey);
    expect(badNumber.status).toBe(400);
    expect((await json(badNumber)).error.code).toBe('invalid_request');
    const missing = await gw.api('/dashboard/api/messages/01234567-89ab-7def-8123-456789abcdef', readKey);
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.code).toBe('message_not_found');
    expect((await fetch(`${gw.base}/dashboard/assets/nope.js`)).status).toBe(404);
    // Not part of the API document.
    const spec = await json(await fetch(`${gw.base}/openapi.json`));
    expect(Object.keys(spec.paths).filter((p) => p.startsWith('/dashboard'))).toEqual([]);
  });

  it('signs in with a read key into an HttpOnly, SameSite=Strict session cookie', async () => {
    await page.fill('#login-key', readKey);
    await page.click('#login-submit');
    await page.getByTestId('providers').waitFor();
    const [session] = await context.cookies();
    expect(session).toMatchObject({
      name: 'switchboard_session',
      httpOnly: true,
      sameSite: 'Strict',
      path: '/dashboard',
      secure: false,
    });
    expect(session?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const res = await signIn(readKey);
    const header = res.headers.get('set-cookie') ?? '';
    expect(header).toMatch(/^switchboard_session=[A-Za-z0-9_-]{43};/);
    expect(header).toContain('HttpOnly');
    expect(header).toContain('SameSite=Strict');
    expect(header).toContain('Path=/dashboard');
    expect(header).not.toContain('Secure');
    expect(await pageStatus(cookieOf(res))).toBe(200);
  });
});

/** The status GET /dashboard answers with this Cookie header: 200 (the dashboard) or 401 (sign-in). */
async function pageStatus(cookie: string): Promise<number> {
  return (await fetch(`${gw.base}/dashboard`, { headers: { cookie } })).status;
}

describe('the dashboard', () => {
  it('shows counts, delivery ratio and queue depth per provider, failures and event delivery failures', async () => {
    await waitForText(page, 'twilio-accepted', '2');
    expect(await text(page, 'live')).toBe('live');
    expect(await text(page, 'twilio-inbound')).toBe('1');
    expect(await text(page, 'twilio-delivered')).toBe('2');
    expect(await text(page, 'twilio-failed')).toBe('1');
    expect(await text(page, 'twilio-ratio')).toBe('66.7%');
    expect(await text(page, 'twilio-queue')).toBe('0');
    expect(await text(page, 'twilio-breaker')).toBe('circuit closed');
    expect(await text(page, 'telnyx-accepted')).toBe('2');
    expect(await text(page, 'telnyx-inbound')).toBe('1');
    expect(await text(page, 'telnyx-delivered')).toBe('2');
    expect(await text(page, 'telnyx-ratio')).toBe('100%');
    expect(await text(page, 'total-queue')).toBe('0');
    expect(await text(page, 'who')).toContain('dashboard reader');

    // Failures by error code: the refused send.
    const failures = page.getByTestId('failure-row');
    expect(await failures.count()).toBe(1);
    expect(await failures.first().textContent()).toMatch(/^twilio21211recipient10/);

    // Event deliveries: the endpoint's counts and its dead deliveries, with the app's answer.
    await waitForText(page, 'total-events-dead', '2');
    const endpoint = await page.getByTestId('endpoint-row').first().textContent();
    expect(endpoint).toContain('default');
    expect(endpoint).toContain(new URL(app.url).origin);
    const dead = page.getByTestId('event-failure-row');
    expect(await dead.count()).toBe(2);
    for (const row of await dead.all()) {
      const content = await row.textContent();
      expect(content).toContain('message.received');
      expect(content).toContain('HTTP 500');
      expect(content).toContain('dead');
    }

    // Recent messages, newest first: 7 stored (5 sent, 2 inbound).
    const rows = page.getByTestId('message-row');
    expect(await rows.count()).toBe(7);
    expect(await rows.last().textContent()).toContain('hello 1');
  });

  it("shows a message's status history when it is clicked", async () => {
    // On its body: its numbers are buttons that open their conversation.
    await page.getByTestId('message-row').filter({ hasText: 'hello 1' }).getByTestId('message-body').click();
    await page.getByTestId('history-row').first().waitFor();
    expect(await text(page, 'detail-body')).toBe('hello 1');
    const statuses = (await listOf(page, 'history-row', 'data-status')).map(([status]) => status);
    expect(statuses).toContain('sent');
    expect(statuses.at(-1)).toBe('delivered');
    expect(statuses.indexOf('sent')).toBeLessThan(statuses.indexOf('delivered'));
    expect(await page.getByTestId('attempt-row').count()).toBe(1);
  });

  it('shows the conversation with a number, both directions, oldest first', async () => {
    await page.fill('#conversation-number', '12');
    await page.getByTestId('conversation-show').click();
    await waitForText(page, 'conversation-error', (t) => t.includes('E.164'));

    await page.fill('#conversation-number', CUSTOMER);
    await page.getByTestId('conversation-show').click();
    await page.getByTestId('bubble').first().waitFor();
    expect(await listOf(page, 'bubble', 'data-direction', '.text')).toEqual([
      ['outbound', 'hello 1'],
      ['inbound', 'reply from customer'],
      ['outbound', 'hello 2'],
    ]);
    expect(await text(page, 'conversation-title')).toContain(CUSTOMER);
  });

  it('shows a hostile message body as text', async () => {
    // From the recent list (a number opens its conversation) and in the message's detail.
    await page.getByTestId('message-row').filter({ hasText: HOSTILE }).getByText(TELNYX_CUSTOMER).click();
    await waitForText(page, 'conversation-title', (t) => t.includes(TELNYX_CUSTOMER));
    await page.getByTestId('message-row').filter({ hasText: HOSTILE }).getByTestId('message-body').click();
    await waitForText(page, 'detail-body', HOSTILE);
    expect((await listOf(page, 'bubble', 'data-direction', '.text')).map(([, body]) => body)).toContain(
      HOSTILE,
    );
    expect(await page.locator('main img').count()).toBe(0);
    expect(dialogs).toBe(0);
  });

  it('updates live, without reloading, when a message is sent', async () => {
    await page.fill('#conversation-number', CUSTOMER);
    await page.getByTestId('conversation-show').click();
    await until(async () => (await page.getByTestId('bubble').count()) === 3, 5000, 'three bubbles');
    // A mark on the window: a reload would lose it.
    await page.evaluate('window.marker = 42');
    expect(await text(page, 'twilio-accepted')).toBe('2');
    const id = await sendVia({ to: CUSTOMER, body: 'live one' });
    await gw.waitForStatus(id, 'delivered');
    await waitForText(page, 'twilio-accepted', '3');
    await waitForText(page, 'twilio-delivered', '3');
    expect(await text(page, 'twilio-ratio')).toBe('75%');
    expect(await page.evaluate('window.marker')).toBe(42);
    // The open conversation follows too.
    await until(async () => (await page.getByTestId('bubble').count()) === 4, 8000, 'four bubbles');
  });

  it('renders the page and the chart (screenshot)', async () => {
    const shot = await page.screenshot({ fullPage: true });
    mkdirSync('test-results', { recursive: true });
    writeFileSync('test-results/dashboard.png', shot);
    const whole = decode(shot);
    expect(whole.width).toBeGreaterThan(1000);
    // Not blank: most pixels are the background, but a good share are not, in many colours.
    const background = pixelsNear(whole, '#f4f6f8', 2) + pixelsNear(whole, '#ffffff', 2);
    const total = whole.width * whole.height;
    expect(total - background).toBeGreaterThan(total * 0.03);
    const colours = new Set<number>();
    for (let i = 0; i < whole.data.length; i += 4 * 7) colours.add(whole.data.readUInt32BE(i));
    expect(colours.size).toBeGreaterThan(200);

    // The chart: bars in each carrier's outbound colour, drawn from the data (none would be there without it).
    // A clip of the page where the chart is, not the element's own screenshot: every update (2 s) replaces the
    // chart's element, and on a loaded machine the element's screenshot could outlast it ("not attached").
    await page.getByTestId('chart-svg').scrollIntoViewIfNeeded();
    const box = await page.getByTestId('chart-svg').boundingBox();
    expect(box).not.toBeNull();
    const chart = decode(await page.screenshot({ clip: box! }));
    expect(pixelsNear(chart, SERIES_COLORS['twilio:outbound']!)).toBeGreaterThan(150);
    expect(pixelsNear(chart, SERIES_COLORS['telnyx:outbound']!)).toBeGreaterThan(100);
    expect(pixelsNear(chart, SERIES_COLORS['twilio:inbound']!)).toBeGreaterThan(30);
  });
});

describe('sessions', () => {
  it('ends a session whose key is revoked, including its open stream', async () => {
    const cookie = cookieOf(await signIn(revocableKey.key));
    const snapshot = await fetch(`${gw.base}/dashboard/api/snapshot`, { headers: { cookie } });
    expect(snapshot.status).toBe(200);
    const stream = await fetch(`${gw.base}/dashboard/stream`, { headers: { cookie } });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    let received = '';
    const reading = (async () => {
      for await (const chunk of stream.body!) received += Buffer.from(chunk).toString();
    })();
    await until(() => received.includes('event: snapshot'), 5000, 'a first snapshot');

    await gw.store.revokeApiKey(revocableKey.id, Date.now());
    await until(
      async () => (await fetch(`${gw.base}/dashboard/api/snapshot`, { headers: { cookie } })).status === 401,
      5000,
      'the session to end',
    );
    await reading; // the stream ends
    expect(received).toContain('event: logout');
    expect(await pageStatus(cookie)).toBe(401);
  });

  it('signs out', async () => {
    const [session] = await context.cookies();
    await page.getByTestId('logout').click();
    await page.getByTestId('login').waitFor();
    expect(await context.cookies()).toEqual([]);
    expect(await pageStatus(`switchboard_session=${session!.value}`)).toBe(401);
  });

  it('lets the app close while dashboards are connected', async () => {
    const tab = await context.newPage();
    await tab.goto(`${gw.base}/dashboard`);
    await tab.fill('#login-key', API_KEY);
    await tab.click('#login-submit');
    await waitForText(tab, 'live', 'live');
    const started = Date.now();
    closed = true;
    await gw.close();
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
