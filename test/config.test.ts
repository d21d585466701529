import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/core/errors.js';
import { telnyxKeys, TWILIO_SID, TWILIO_TOKEN, TWILIO_TOKEN_SECONDARY } from './helpers/carriers.js';

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
      databaseUrl: './data/switchboard.db',
      publicBaseUrl: null,
      processingMode: 'fast',
      computeTimeoutMs: 10_000,
      twilio: null,
      telnyx: null,
      apiKeys: [],
      unsafeSkipWebhookVerification: false,
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
    ];
    expect(found).toHaveLength(names.length);
    for (const name of names) expect(found.filter((p) => p.startsWith(name))).toHaveLength(1);
  });

  it("keeps the compute deadline under Twilio's 15 s", () => {
    expect(problems({ COMPUTE_TIMEOUT_MS: '14999' })).toEqual([]);
    expect(problems({ COMPUTE_TIMEOUT_MS: '15000' })[0]).toMatch(/COMPUTE_TIMEOUT_MS.*15 s/);
    expect(problems({ COMPUTE_TIMEOUT_MS: 'soon' })[0]).toContain('COMPUTE_TIMEOUT_MS');
  });

  it('requires both Twilio credentials or neither, and checks their shape without echoing the token', () => {
    expect(problems({ TWILIO_ACCOUNT_SID: TWILIO_SID })[0]).toContain('TWILIO_AUTH_TOKEN is not');
    expect(problems({ TWILIO_AUTH_TOKEN: TWILIO_TOKEN })[0]).toContain('TWILIO_ACCOUNT_SID is not');
    const bad = problems({ TWILIO_ACCOUNT_SID: 'XX123', TWILIO_AUTH_TOKEN: 'not-a-token-secret' });
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
    expect(problems({ TWILIO_ACCOUNT_SID: TWILIO_SID, TWILIO_AUTH_TOKEN: ' , ' })).toEqual([
      'TWILIO_AUTH_TOKEN lists no token.',
    ]);
    expect(problems({ TELNYX_PUBLIC_KEY: ',' })).toEqual(['TELNYX_PUBLIC_KEY lists no key.']);
    expect(problems({ SWITCHBOARD_API_KEYS: ',,' })).toEqual(['SWITCHBOARD_API_KEYS lists no key.']);
  });

  it('rejects a PUBLIC_BASE_URL with a query string', () => {
    expect(problems({ PUBLIC_BASE_URL: 'https://x.example.com/?a=1' })[0]).toContain('PUBLIC_BASE_URL');
  });
});
