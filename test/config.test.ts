import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/core/errors.js';
import { telnyxKeys, TWILIO_SID, TWILIO_TOKEN, TWILIO_TOKEN_SECONDARY } from './helpers/carriers.js';
import { configFile } from './helpers/send-gateway.js';

function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      // No credentials: the sandbox, on a database of its own.
      sandbox: true,
      databaseUrl: './data/sandbox.db',
      publicBaseUrl: null,
      processingMode: 'fast',
      computeTimeoutMs: 10_000,
      twilio: null,
      telnyx: null,
      apiKeys: [],
      unsafeSkipWebhookVerification: false,
      trustProxy: false,
    });
  });

  it('accepts comma-separated Twilio tokens and Telnyx keys for rotation', () => {
    const a = telnyxKeys().publicKey;
    const b = telnyxKeys().publicKey;
    const c = loadConfig({
      TWILIO_ACCOUNT_SID: TWILIO_SID,
      TWILIO_AUTH_TOKEN: `${TWILIO_TOKEN}, ${TWILIO_TOKEN_SECONDARY}`,
      TELNYX_PUBLIC_KEY: `${a},${b}`,
      SWITCHBOARD_API_KEYS: 'k'.repeat(16) + ',' + 'j'.repeat(20),
      PUBLIC_BASE_URL: 'https://sms.example.com/gw/',
      DATABASE_URL: ':memory:',
    });
    expect(c.twilio?.authTokens).toEqual([TWILIO_TOKEN, TWILIO_TOKEN_SECONDARY]);
    expect(c.telnyx?.publicKeys).toEqual([a, b]);
    expect(c.apiKeys).toHaveLength(2);
    expect(c.publicBaseUrl).toBe('https://sms.example.com/gw');
    expect(c.databaseUrl).toBe(':memory:');
  });

  it('reports every bad field at once, each naming its variable', () => {
    const found = problems({
      PORT: '70000',
      PROCESSING_MODE: 'turbo',
      COMPUTE_TIMEOUT_MS: '15000',
      PUBLIC_BASE_URL: 'ftp://x',
      TELNYX_PUBLIC_KEY: 'dG9vIHNob3J0',
      SWITCHBOARD_API_KEYS: 'short',
      LOG_LEVEL: 'loud',
      UNSAFE_SKIP_WEBHOOK_VERIFICATION: 'yes',
      API_RATE_LIMIT_PER_MINUTE: '-5',
    });
    const names = [
      'PORT',
      'PROCESSING_MODE',
      'COMPUTE_TIMEOUT_MS',
      'PUBLIC_BASE_URL',
      'TELNYX_PUBLIC_KEY',
      'SWITCHBOARD_API_KEYS',
      'LOG_LEVEL',
      'UNSAFE_SKIP_WEBHOOK_VERIFICATION',
      'API_RATE_LIMIT_PER_MINUTE',
    ];
    expect(found).toHaveLength(names.length);
    for (const name of names) expect(found.filter((p) => p.startsWith(name))).toHaveLength(1);
  });

  it('reads the API rate limit per key, 0 meaning none', () => {
    expect(loadConfig({ API_RATE_LIMIT_PER_MINUTE: '0' }).apiRateLimitPerMinute).toBe(0);
    expect(loadConfig({}).apiRateLimitPerMinute).toBe(6000);
    expect(problems({ API_RATE_LIMIT_PER_MINUTE: 'lots' })[0]).toContain('API_RATE_LIMIT_PER_MINUTE');
  });

  it("keeps the compute deadline under Twilio's 15 s", () => {
    expect(problems({ COMPUTE_TIMEOUT_MS: '14999' })).toEqual([]);
    expect(problems({ COMPUTE_TIMEOUT_MS: '15000' })[0]).toMatch(/COMPUTE_TIMEOUT_MS.*15 s/);
    expect(problems({ COMPUTE_TIMEOUT_MS: 'soon' })[0]).toContain('COMPUTE_TIMEOUT_MS');
  });

  it('requires both Twilio credentials or neither, and checks their shape without echoing the token', () => {
    expect(problems({ TWILIO_ACCOUNT_SID: TWILIO_SID })[0]).toContain('TWILIO_AUTH_TOKEN is not');
    expect(problems({ TWILIO_AUTH_TOKEN: TWILIO_TOKEN })[0]).toContain('TWILIO_ACCOUNT_SID is not');
    const bad = problems({
      TWILIO_ACCOUNT_SID: 'XX123',
      TWILIO_AUTH_TOKEN: 'not-a-token-secret',
      PUBLIC_BASE_URL: 'https://sms.example.com',
    });
    expect(bad).toHaveLength(2);
    expect(bad.join('\n')).not.toContain('not-a-token-secret');
  });

  it('names the bad entry of a key list', () => {
    const good = telnyxKeys().publicKey;
    expect(problems({ TELNYX_PUBLIC_KEY: `${good},AAAA` })).toEqual([
      expect.stringContaining('TELNYX_PUBLIC_KEY entry 2'),
    ]);
  });

  it('rejects a credential list that lists nothing', () => {
    const base = { PUBLIC_BASE_URL: 'https://sms.example.com' };
    expect(problems({ TWILIO_ACCOUNT_SID: TWILIO_SID, TWILIO_AUTH_TOKEN: ' , ', ...base })).toEqual([
      'TWILIO_AUTH_TOKEN lists no token.',
    ]);
    expect(problems({ TELNYX_PUBLIC_KEY: ',' })).toEqual(['TELNYX_PUBLIC_KEY lists no key.']);
    expect(problems({ SWITCHBOARD_API_KEYS: ',,' })).toEqual(['SWITCHBOARD_API_KEYS lists no key.']);
  });

  it('refuses Twilio without PUBLIC_BASE_URL unless TRUST_PROXY=true says a proxy of ours sets the headers', () => {
    const twilio = { TWILIO_ACCOUNT_SID: TWILIO_SID, TWILIO_AUTH_TOKEN: TWILIO_TOKEN };
    expect(problems(twilio)).toEqual([
      'TWILIO_ACCOUNT_SID is set but PUBLIC_BASE_URL is not: Twilio signs the exact URL it calls, which cannot be ' +
        'known from headers any client can set. Set PUBLIC_BASE_URL to the URL Twilio calls (e.g. ' +
        'https://sms.example.com), or TRUST_PROXY=true if your own proxy sets X-Forwarded-Proto and X-Forwarded-Host.',
    ]);
    expect(loadConfig({ ...twilio, TRUST_PROXY: 'true' })).toMatchObject({
      trustProxy: true,
      publicBaseUrl: null,
    });
    expect(loadConfig({ ...twilio, PUBLIC_BASE_URL: 'https://sms.example.com' }).trustProxy).toBe(false);
    expect(problems({ ...twilio, TRUST_PROXY: 'false' })).toHaveLength(1);
    // A bad PUBLIC_BASE_URL is reported as such, once.
    expect(problems({ ...twilio, PUBLIC_BASE_URL: 'ftp://x' })).toEqual([
      expect.stringMatching(/^PUBLIC_BASE_URL must be an absolute http\(s\) URL/),
    ]);
    expect(problems({ TRUST_PROXY: 'yes' })).toEqual(['TRUST_PROXY must be "true" or "false", got "yes".']);
    // Telnyx alone signs no URL; the sandbox (no credentials) plays both carriers on this server's own address.
    expect(problems({ TELNYX_PUBLIC_KEY: telnyxKeys().publicKey })).toEqual([]);
    expect(loadConfig({}).sandbox).toBe(true);
  });

  it('rejects a PUBLIC_BASE_URL with a query string', () => {
    expect(problems({ PUBLIC_BASE_URL: 'https://x.example.com/?a=1' })[0]).toContain('PUBLIC_BASE_URL');
  });
});

describe('CALLBACK_ALLOWED_NETWORKS', () => {
  it('reads a comma-separated list of IPv4 and IPv6 networks; none by default', () => {
    expect(loadConfig({}).callbackAllowedNetworks).toEqual([]);
    expect(
      loadConfig({ CALLBACK_ALLOWED_NETWORKS: '10.0.0.0/8, 127.0.0.1/32,fd00::/8,192.168.1.7' })
        .callbackAllowedNetworks,
    ).toEqual([
      { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '127.0.0.1', prefix: 32, family: 'ipv4' },
      { address: 'fd00::', prefix: 8, family: 'ipv6' },
      { address: '192.168.1.7', prefix: 32, family: 'ipv4' },
    ]);
  });

  it('names each bad entry on a line of its own', () => {
    const found = problems({
      CALLBACK_ALLOWED_NETWORKS: '10.0.0.0/8,localhost,10.0.0.1/8,::1/129,192.168.0.0/16',
    });
    expect(found).toEqual([
      'CALLBACK_ALLOWED_NETWORKS entry 2: "localhost" is not an IPv4 or IPv6 network such as 10.0.0.0/8 or fd00::/8.',
      'CALLBACK_ALLOWED_NETWORKS entry 3: "10.0.0.1/8" has bits set past its /8 prefix (the network would be 10.0.0.0/8).',
      'CALLBACK_ALLOWED_NETWORKS entry 4: "::1/129": the prefix length must be a whole number from 0 to 128.',
    ]);
  });
});

describe('sending configuration', () => {
  const twilioEnv = {
    TWILIO_ACCOUNT_SID: TWILIO_SID,
    TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
    PUBLIC_BASE_URL: 'https://sms.example.com',
  };
  const telnyxEnv = { TELNYX_PUBLIC_KEY: telnyxKeys().publicKey, TELNYX_API_KEY: 'KEY-telnyx-test' };

  it('runs the sandbox only when no carrier credential is set, unless turned off', () => {
    expect(loadConfig({}).sandbox).toBe(true);
    expect(loadConfig({ SWITCHBOARD_SANDBOX: 'false' }).sandbox).toBe(false);
    expect(loadConfig(twilioEnv).sandbox).toBe(false);
    expect(problems({ ...twilioEnv, SWITCHBOARD_SANDBOX: 'true' })[0]).toMatch(/SWITCHBOARD_SANDBOX=true/);
    expect(loadConfig(twilioEnv).databaseUrl).toBe('./data/switchboard.db');
  });

  it('never runs an unasked sandbox on a named database (credentials missing by mistake)', () => {
    expect(problems({ DATABASE_URL: '/var/lib/switchboard/prod.db' })[0]).toMatch(
      /DATABASE_URL names a database .* SWITCHBOARD_SANDBOX=true/,
    );
    expect(loadConfig({ DATABASE_URL: ':memory:' }).databaseUrl).toBe(':memory:');
    expect(loadConfig({ DATABASE_URL: '/tmp/x.db', SWITCHBOARD_SANDBOX: 'true' }).databaseUrl).toBe(
      '/tmp/x.db',
    );
  });

  it('normalizes configured senders and names a bad one', () => {
    const c = loadConfig({ ...twilioEnv, TWILIO_FROM: '+1 (415) 555-0100' });
    expect(c.sending.providers.twilio?.from).toBe('+14155550100');
    expect(problems({ ...twilioEnv, TWILIO_FROM: '+1 415 555' })[0]).toMatch(
      /^TWILIO_FROM must be a phone number/,
    );
  });

  it('covers the simple case with environment variables', () => {
    const c = loadConfig({
      ...twilioEnv,
      ...telnyxEnv,
      DEFAULT_PROVIDER: 'telnyx',
      TWILIO_FROM: '+14155550100',
      TELNYX_FROM: '+13125550001',
      TELNYX_MESSAGING_PROFILE_ID: 'profile-1',
    });
    expect(c.sending.defaultProvider).toBe('telnyx');
    expect(c.sending.providers.twilio).toMatchObject({ from: '+14155550100', mps: 10, concurrency: 4 });
    expect(c.sending.providers.telnyx).toMatchObject({
      from: '+13125550001',
      messagingProfileId: 'profile-1',
    });
  });

  it('reads the SWITCHBOARD_CONFIG file in the documented shape', () => {
    const path = configFile({
      defaultProvider: 'twilio',
      failover: ['twilio', 'telnyx'],
      providers: {
        twilio: { from: '+14155550100', mps: 10, concurrency: 4 },
        telnyx: { from: '+13125550001', messagingProfileId: 'abc', mps: 10, concurrency: 4 },
      },
      routes: [{ toPrefix: '+44', provider: 'telnyx' }],
    });
    const c = loadConfig({ ...twilioEnv, ...telnyxEnv, SWITCHBOARD_CONFIG: path });
    expect(c.sending).toMatchObject({
      defaultProvider: 'twilio',
      failover: ['twilio', 'telnyx'],
      routes: [{ toPrefix: '+44', from: null, provider: 'telnyx' }],
      providers: { telnyx: { messagingProfileId: 'abc', mps: 10 } },
    });
    // Switching the default carrier is a configuration change: the environment wins over the file.
    expect(
      loadConfig({ ...twilioEnv, ...telnyxEnv, SWITCHBOARD_CONFIG: path, DEFAULT_PROVIDER: 'telnyx' }).sending
        .defaultProvider,
    ).toBe('telnyx');
  });

  it('reads the WhatsApp sender and channel rules, and refuses a WhatsApp sender where none can work', () => {
    // Outside the sandbox a gateway with Twilio needs its public URL (issue 11 item 2).
    const PUBLIC = 'https://sms.example.com';
    const path = configFile({
      providers: { twilio: { whatsappFrom: '+1 415 555 0155' }, telnyx: { whatsappFrom: '+13125550009' } },
      routes: [{ channel: 'whatsapp', provider: 'twilio' }],
    });
    expect(
      problems({ ...twilioEnv, PUBLIC_BASE_URL: PUBLIC, ...telnyxEnv, SWITCHBOARD_CONFIG: path }),
    ).toEqual([
      'providers.telnyx.whatsappFrom: Switchboard sends WhatsApp through Twilio only (Telnyx messaging cannot).',
    ]);
    const ok = configFile({
      providers: { twilio: { whatsappFrom: '+1 415 555 0155' } },
      routes: [{ channel: 'whatsapp', provider: 'twilio' }],
    });
    const c = loadConfig({ ...twilioEnv, PUBLIC_BASE_URL: PUBLIC, SWITCHBOARD_CONFIG: ok });
    expect(c.sending.providers.twilio?.whatsappFrom).toBe('+14155550155');
    expect(c.sending.routes).toEqual([
      { toPrefix: null, from: null, channel: 'whatsapp', provider: 'twilio' },
    ]);
    // The environment wins, and takes Twilio's own way of writing a WhatsApp address.
    const env = loadConfig({
      ...twilioEnv,
      SWITCHBOARD_CONFIG: ok,
      TWILIO_WHATSAPP_FROM: 'whatsapp:+14155550166',
    });
    expect(env.sending.providers.twilio?.whatsappFrom).toBe('+14155550166');
    expect(problems({ ...twilioEnv, PUBLIC_BASE_URL: PUBLIC, TWILIO_WHATSAPP_FROM: 'ACME' })).toEqual([
      'TWILIO_WHATSAPP_FROM must be a WhatsApp-enabled phone number in international form (+14155550100), got "ACME".',
    ]);
  });

  it('names every bad field of a bad file', () => {
    const path = configFile({
      defaultProvider: 'vonage',
      failover: ['twilio', 'twilio'],
      providers: { twilio: { mps: -1, concurrency: 0, colour: 'red' } },
      routes: [{ toPrefix: '44', provider: 'twilio' }, { provider: 'twilio' }],
    });
    const found = problems({ ...twilioEnv, SWITCHBOARD_CONFIG: path });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/providers\.twilio\.mps: must be a number above 0/),
        expect.stringMatching(/providers\.twilio\.concurrency: must be a whole number from 1/),
        expect.stringMatching(/providers\.twilio\.colour/),
        expect.stringMatching(/routes\[0\]\.toPrefix: must be "\+" followed by digits/),
      ]),
    );
    const semantic = problems({
      ...twilioEnv,
      SWITCHBOARD_CONFIG: configFile({
        defaultProvider: 'vonage',
        failover: ['twilio', 'twilio', 'telnyx'],
        routes: [{ provider: 'twilio' }],
      }),
    });
    expect(semantic).toEqual([
      'defaultProvider must be one of twilio, telnyx, got "vonage".',
      'failover[1] repeats twilio.',
      'failover[2] names telnyx, but Telnyx has no API key (TELNYX_API_KEY).',
      'routes[0] needs "toPrefix", "from" or "channel" (or several) to match anything.',
    ]);
  });

  it('says when the file cannot be read or parsed', () => {
    expect(problems({ SWITCHBOARD_CONFIG: '/nonexistent/switchboard.json' })[0]).toMatch(/cannot read/);
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-cfg-'));
    writeFileSync(join(dir, 'bad.json'), '{ "defaultProvider": ');
    expect(problems({ SWITCHBOARD_CONFIG: join(dir, 'bad.json') })[0]).toMatch(/not valid JSON/);
  });

  it('refuses a Telnyx API key without the public key that verifies its receipts', () => {
    expect(problems({ TELNYX_API_KEY: 'KEY-x' })[0]).toMatch(/TELNYX_PUBLIC_KEY is not/);
  });
});

describe('event delivery configuration', () => {
  const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

  it('defaults to no endpoint and the documented retry schedule', () => {
    expect(loadConfig({}).events).toEqual({
      endpoints: [],
      statusCallbacks: null,
      retryScheduleMs: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000],
      timeoutMs: 10_000,
    });
  });

  it('makes APP_WEBHOOK_URL endpoint "default", filtered by APP_WEBHOOK_EVENTS, with the secret decoded', () => {
    const { events } = loadConfig({
      APP_WEBHOOK_URL: 'https://app.example/hooks',
      APP_WEBHOOK_SECRET: secret,
      APP_WEBHOOK_EVENTS: 'message.received, message.failed',
      APP_WEBHOOK_RETRY_SCHEDULE: '100ms,200ms,1s,2m,3h,1d',
      APP_WEBHOOK_TIMEOUT_MS: '2500',
    });
    expect(events.endpoints).toEqual([
      {
        id: 'default',
        url: 'https://app.example/hooks',
        events: ['message.received', 'message.failed'],
        secrets: [Buffer.alloc(32, 7)],
        concurrency: 8,
      },
    ]);
    expect(events.retryScheduleMs).toEqual([100, 200, 1000, 120_000, 10_800_000, 86_400_000]);
    // With a secret, messages' own status callbacks can be signed.
    expect(events.statusCallbacks).toMatchObject({
      id: 'status-callback',
      events: ['message.status', 'message.failed'],
    });
    expect(events.timeoutMs).toBe(2500);
    expect(loadConfig({ APP_WEBHOOK_RETRY_SCHEDULE: 'none' }).events.retryScheduleMs).toEqual([]);
  });

  it('reads endpoints from SWITCHBOARD_CONFIG, each with its filter and optionally its own secret', () => {
    const own = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
    const { events } = loadConfig({
      APP_WEBHOOK_SECRET: secret,
      SWITCHBOARD_CONFIG: configFile({
        endpoints: [
          { id: 'crm', url: 'https://crm.example/sms', events: ['message.received'] },
          {
            id: 'alerts',
            url: 'http://10.0.0.5/failures',
            events: ['message.failed'],
            secret: own,
            concurrency: 2,
          },
        ],
      }),
    });
    expect(events.endpoints.map((e) => [e.id, e.events, e.secrets[0]!.length, e.concurrency])).toEqual([
      ['crm', ['message.received'], 32, 8],
      ['alerts', ['message.failed'], 24, 2],
    ]);
  });

  it('names every bad setting without echoing a secret', () => {
    const leaked = 'whsec_c2hvcnQ=';
    const found = problems({
      APP_WEBHOOK_URL: 'ftp://app.example',
      APP_WEBHOOK_SECRET: leaked,
      APP_WEBHOOK_EVENTS: 'message.sent',
      APP_WEBHOOK_RETRY_SCHEDULE: '5s,soon',
      APP_WEBHOOK_TIMEOUT_MS: '5',
      SWITCHBOARD_CONFIG: configFile({
        endpoints: [
          { id: 'Bad Id', url: 'https://x.example' },
          { id: 'ok', url: 'https://y.example', events: ['message.nope'] },
          { id: 'ok', url: 'https://z.example' },
          { id: 'sec', url: 'https://s.example', secret: 'not-a-secret' },
        ],
      }),
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^APP_WEBHOOK_URL must be an absolute http\(s\) URL/),
        expect.stringMatching(/^APP_WEBHOOK_SECRET entry 1 must be "whsec_"/),
        expect.stringMatching(/^APP_WEBHOOK_EVENTS: "message.sent" is not an event type/),
        expect.stringMatching(/^APP_WEBHOOK_RETRY_SCHEDULE: "soon" must be a wait/),
        expect.stringMatching(/^APP_WEBHOOK_TIMEOUT_MS must be a whole number from 100 to 60000/),
        expect.stringMatching(/^SWITCHBOARD_CONFIG endpoints\[0\]\.id: must be lowercase/),
        expect.stringMatching(/^SWITCHBOARD_CONFIG endpoints\[1\]\.events\[0\]: must be one of/),
        expect.stringMatching(/^SWITCHBOARD_CONFIG endpoints\[3\]\.secret: must be "whsec_"/),
      ]),
    );
    expect(found.join('\n')).not.toContain('c2hvcnQ');
    expect(found.join('\n')).not.toContain('not-a-secret');
    // A valid file, bad only in what the schema cannot see: a repeated id.
    expect(
      problems({
        APP_WEBHOOK_SECRET: secret,
        SWITCHBOARD_CONFIG: configFile({
          endpoints: [
            { id: 'ok', url: 'https://y.example' },
            { id: 'ok', url: 'https://z.example' },
          ],
        }),
      }),
    ).toEqual(['endpoints[1].id repeats "ok"; endpoint ids must be unique.']);
  });

  it('never quotes a secret or an endpoint URL from a misspelt or malformed file', () => {
    const leaked = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-cfg-'));
    const files = {
      misspelt: JSON.stringify({ endpoints: [{ id: 'a', url: 'https://a.example', secrets: leaked }] }),
      topLevel: JSON.stringify({ endpoint: [{ id: 'a', url: 'https://a.example', secret: leaked }] }),
      notJson: `{ "endpoints": [{ "id": "a", "secret": ${leaked} }] }`,
      tokenUrl: JSON.stringify({ endpoints: [{ id: 'a', url: 'ftp://a.example/?token=hunter2' }] }),
    };
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(join(dir, `${name}.json`), text);
      const found = problems({ APP_WEBHOOK_SECRET: secret, SWITCHBOARD_CONFIG: join(dir, `${name}.json`) });
      expect(found.length, name).toBeGreaterThan(0);
      expect(found.join('\n'), name).not.toContain(leaked.slice(6, 20));
      expect(found.join('\n'), name).not.toContain('hunter2');
    }
    expect(
      problems({ APP_WEBHOOK_SECRET: secret, APP_WEBHOOK_URL: 'https://me:hunter2@app.example' }),
    ).toEqual([expect.stringMatching(/^APP_WEBHOOK_URL must not carry a user name or password/)]);
  });

  it('refuses an endpoint that could not be signed', () => {
    expect(problems({ APP_WEBHOOK_URL: 'https://app.example' })).toEqual([
      expect.stringMatching(/^APP_WEBHOOK_URL is set but APP_WEBHOOK_SECRET is not/),
    ]);
    expect(
      problems({ SWITCHBOARD_CONFIG: configFile({ endpoints: [{ id: 'a', url: 'https://a.example' }] }) }),
    ).toEqual(['endpoints[0] (a) has no secret: set APP_WEBHOOK_SECRET or endpoints[0].secret.']);
  });

  it('keeps everything unless RETENTION_DAYS or REDACT_BODIES_AFTER_DAYS says otherwise', () => {
    expect(loadConfig({}).retention).toEqual({ deleteAfterDays: null, redactBodiesAfterDays: null });
    expect(loadConfig({ RETENTION_DAYS: '90', REDACT_BODIES_AFTER_DAYS: '30' }).retention).toEqual({
      deleteAfterDays: 90,
      redactBodiesAfterDays: 30,
    });
    expect(loadConfig({ REDACT_BODIES_AFTER_DAYS: '7' }).retention).toEqual({
      deleteAfterDays: null,
      redactBodiesAfterDays: 7,
    });
  });

  it('refuses a retention that is not a whole number of days, one line per variable', () => {
    for (const bad of ['0', '-3', '1.5', '90d', 'forever', '36501']) {
      expect(problems({ RETENTION_DAYS: bad }), bad).toEqual([
        `RETENTION_DAYS must be a whole number from 1 to 36500 (unset: keep everything), got "${bad}".`,
      ]);
    }
    expect(problems({ RETENTION_DAYS: 'x', REDACT_BODIES_AFTER_DAYS: '0' })).toEqual([
      expect.stringMatching(/^RETENTION_DAYS must be a whole number/),
      expect.stringMatching(/^REDACT_BODIES_AFTER_DAYS must be a whole number/),
    ]);
  });

  it('refuses bodies redacted no sooner than messages are deleted', () => {
    for (const redact of ['30', '45']) {
      expect(problems({ RETENTION_DAYS: '30', REDACT_BODIES_AFTER_DAYS: redact })).toEqual([
        `REDACT_BODIES_AFTER_DAYS (${redact}) must be smaller than RETENTION_DAYS (30): messages are deleted before ` +
          'their bodies would be redacted.',
      ]);
    }
  });
});
