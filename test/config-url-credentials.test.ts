import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/core/errors.js';
import { hideUrlCredentials, withoutCredentials } from '../src/core/url-credentials.js';
import { TWILIO_SID, TWILIO_TOKEN } from './helpers/carriers.js';
import { configFile } from './helpers/send-gateway.js';

// A configuration error never echoes the user name and password of a URL (issue 11, item 9).

const SECRET = 'hunter2-p4ss';

function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const credentials = { TWILIO_ACCOUNT_SID: TWILIO_SID, TWILIO_AUTH_TOKEN: TWILIO_TOKEN, TRUST_PROXY: 'true' };

describe('URLs in configuration errors', () => {
  it.each([
    ['PUBLIC_BASE_URL', `ftp://admin:${SECRET}@sms.example.com`, 'ftp://***@sms.example.com'],
    ['PUBLIC_BASE_URL', `https://admin:${SECRET}@sms.example.com/?x=1`, null],
    ['TWILIO_API_BASE_URL', `ftp://AC1:${SECRET}@api.example.com/2010`, 'ftp://***@api.example.com/2010'],
    ['TELNYX_API_BASE_URL', `gopher://key:${SECRET}@proxy.internal/v2`, 'gopher://***@proxy.internal/v2'],
    ['APP_WEBHOOK_URL', `https://app:${SECRET}@app.example.com/hooks`, null],
    ['APP_WEBHOOK_URL', `notaurl://app:${SECRET}@`, null],
  ])('%s = %s is refused without its password', (name, value, shown) => {
    const found = problems({ ...credentials, DATABASE_URL: ':memory:', [name]: value });
    const line = found.find((p) => p.includes(name));
    expect(line, JSON.stringify(found)).toBeDefined();
    expect(found.join('\n')).not.toContain(SECRET);
    expect(found.join('\n')).not.toContain('admin:');
    if (shown !== null) expect(line).toContain(shown);
  });

  it('names an unsupported DATABASE_URL scheme and hides the password, never taking it for a file', () => {
    const found = problems({
      ...credentials,
      DATABASE_URL: `postgres://switchboard:${SECRET}@db.internal:5432/sb`,
    });
    expect(found).toEqual([
      'DATABASE_URL is a postgres:// URL (postgres://***@db.internal:5432/sb), which this version does not ' +
        'support: Switchboard stores in SQLite; set DATABASE_URL to a file path (./data/switchboard.db) or :memory:.',
    ]);
    // Without credentials set it is the same problem, not the sandbox's "names a database" one.
    const sandbox = problems({ DATABASE_URL: `MySQL://root:${SECRET}@localhost/sb` });
    expect(sandbox).toHaveLength(1);
    expect(sandbox[0]).toContain('DATABASE_URL is a mysql:// URL (MySQL://***@localhost/sb)');
    // A path is still a path, '@' and all; a drive letter is not a scheme.
    expect(loadConfig({ ...credentials, DATABASE_URL: './data/ops@2026.db' }).databaseUrl).toBe(
      './data/ops@2026.db',
    );
    expect(loadConfig({ ...credentials, DATABASE_URL: 'C://sb/db.sqlite' }).databaseUrl).toBe(
      'C://sb/db.sqlite',
    );
  });

  it("hides a named database's credentials in the sandbox's refusal too", () => {
    // No carrier credentials: the sandbox refuses a named database. A scheme-less value with an '@' is a path.
    const found = problems({ DATABASE_URL: `/srv/sb/user:${SECRET}@host.db` });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain('DATABASE_URL names a database (***@host.db)');
    expect(found[0]).not.toContain(SECRET);
  });

  it('never quotes endpoint URLs from the configuration file', () => {
    const env = { ...credentials, DATABASE_URL: ':memory:', APP_WEBHOOK_SECRET: `whsec_${'A'.repeat(43)}=` };
    const badShape = problems({
      ...env,
      SWITCHBOARD_CONFIG: configFile({
        endpoints: [{ id: 'bad', url: `ftp://x:${SECRET}@files.example.com` }],
      }),
    });
    expect(badShape).toEqual(['SWITCHBOARD_CONFIG endpoints[0].url: must be an absolute http(s) URL.']);
    const withPassword = problems({
      ...env,
      SWITCHBOARD_CONFIG: configFile({
        endpoints: [{ id: 'crm', url: `https://crm:${SECRET}@crm.example.com/sms` }],
      }),
    });
    expect(withPassword).toHaveLength(1);
    expect(withPassword[0]).toMatch(/^endpoints\[0\]\.url must not carry a user name or password/);
    expect(withPassword[0]).not.toContain(SECRET);
  });

  it('scrubs any URL quoted in a configuration error, whoever wrote the line', () => {
    const error = new ConfigError([
      `SOME_NEW_URL must be https, got "http://user:${SECRET}@example.com/p?q=1".`,
      `a raw '/' in a password: redis://default:pa/ss@${SECRET}@cache:6379 (and more text)`,
    ]);
    expect(error.message).not.toContain(SECRET);
    expect(error.problems).toEqual([
      'SOME_NEW_URL must be https, got "http://***@example.com/p?q=1".',
      "a raw '/' in a password: redis://***@cache:6379 (and more text)",
    ]);
  });
});

describe('withoutCredentials and hideUrlCredentials', () => {
  it('hide everything up to the last @, keep what has none', () => {
    expect(withoutCredentials('https://u:p@h/x')).toBe('https://***@h/x');
    expect(withoutCredentials('https://u:p@ss@h')).toBe('https://***@h');
    expect(withoutCredentials('https://h/x')).toBe('https://h/x');
    expect(withoutCredentials('u:p@h')).toBe('***@h');
    expect(hideUrlCredentials('a https://h/x b')).toBe('a https://h/x b');
    expect(hideUrlCredentials('"https://u:p@h" and ftp://a@b')).toBe('"https://***@h" and ftp://***@b');
  });
});
