import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { v7 as uuidv7 } from 'uuid';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/cli/db.js';
import { runCli } from '../helpers/cli.js';
import { TWILIO_SID, TWILIO_TOKEN } from '../helpers/carriers.js';

// `switchboard db prune` on a real database file, made by `switchboard migrate` and filled the way the gateway
// fills it, with rows dated in the past (ids are UUIDv7: their time is their creation time).

const DAY = 86_400_000;
const env = (database: string) => ({
  TWILIO_ACCOUNT_SID: TWILIO_SID,
  TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
  PUBLIC_BASE_URL: 'https://sms.example.com',
  DATABASE_URL: database,
});

/** A message created `daysAgo`, with its `received` history entry; returns its id. */
function message(db: Database.Database, daysAgo: number, body: string): string {
  const at = Date.now() - daysAgo * DAY;
  const id = uuidv7({ msecs: at });
  db.prepare(
    `INSERT INTO messages (id, provider, direction, channel, from_number, to_number, body, media, status,
       created_at, updated_at)
     VALUES (?, 'twilio', 'inbound', 'mms', '+14155550123', '+14155550100', ?, ?, 'received', ?, ?)`,
  ).run(id, body, JSON.stringify([{ url: 'https://m.example/1.jpg', contentType: 'image/jpeg' }]), at, at);
  db.prepare(
    `INSERT INTO message_events (message_id, dedupe_key, provider, status, provider_status, occurred_at, received_at)
     VALUES (?, ?, 'twilio', 'received', 'received', ?, ?)`,
  ).run(id, `twilio:${id}`, at, at);
  return id;
}

const count = (db: Database.Database, table: string): number =>
  (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

describe('switchboard db prune', () => {
  let database: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    database = join(mkdtempSync(join(tmpdir(), 'switchboard-prune-')), 'switchboard.db');
    expect((await runCli(['migrate'], env(database))).code).toBe(0);
    const db = new Database(database);
    for (let i = 0; i < 5; i++) ids[`old${i}`] = message(db, 100 + i, `old ${i}`);
    ids.queued = message(db, 120, 'queued long ago, never sent');
    db.prepare(
      `INSERT INTO outbox (message_id, provider, attempts, next_attempt_at, created_at) VALUES (?, 'twilio', 3, 0, 0)`,
    ).run(ids.queued);
    db.prepare(
      `INSERT INTO idempotency_keys (key, request_hash, message_id, created_at) VALUES ('k1', 'h', ?, 0)`,
    ).run(ids.old0);
    db.prepare(
      `INSERT INTO opt_outs (phone, our_number, provider, created_at) VALUES ('+14155550123', '+14155550100', 'twilio', ?)`,
    ).run(Date.now() - 200 * DAY);
    // Webhook signatures remembered against re-splitting: two received long ago, one a week ago.
    const signature = db.prepare('INSERT INTO webhook_signatures (digest, received_at) VALUES (?, ?)');
    for (const [byte, days] of [
      [1, 100],
      [2, 95],
      [3, 7],
    ] as const)
      signature.run(Buffer.alloc(16, byte), Date.now() - days * DAY);
    ids.week = message(db, 7, 'a week old');
    ids.today = message(db, 0, 'just now');
    db.close();
  });

  it('counts in a dry run and changes nothing', async () => {
    const { code, stdout } = await runCli(['db', 'prune', '--older-than', '90d', '--dry-run'], env(database));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Would delete what was created before \d{4}-\d\d-\d\dT/);
    expect(stdout).toMatch(/ {2}messages\s+5\n/);
    expect(stdout).toMatch(/ {2}status history entries\s+5\n/);
    expect(stdout).toMatch(/ {2}idempotency keys\s+1\n/);
    expect(stdout).toMatch(/ {2}webhook signatures \(replay protection\)\s+2\n/);
    expect(stdout).toContain(
      'Left alone: old messages still waiting to go out or to reach an app, or with a newer event (1 not deleted).',
    );
    expect(stdout).toContain('Dry run: nothing was changed.');
    const db = new Database(database, { readonly: true });
    expect(count(db, 'messages')).toBe(8);
    db.close();
  });

  it('deletes what is older, keeping the outbox, newer messages and opt-outs, and prints the counts', async () => {
    const { code, stdout } = await runCli(['db', 'prune', '--older-than', '90d'], env(database));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Deleted what was created before/);
    expect(stdout).toMatch(/ {2}messages\s+5\n/);
    const db = new Database(database, { readonly: true });
    const left = (db.prepare('SELECT id FROM messages ORDER BY id').all() as { id: string }[]).map(
      (r) => r.id,
    );
    expect(left).toEqual([ids.queued, ids.week, ids.today]);
    expect(count(db, 'webhook_signatures')).toBe(1);
    expect(count(db, 'message_events')).toBe(3);
    expect(count(db, 'idempotency_keys')).toBe(0);
    expect(count(db, 'outbox')).toBe(1);
    expect(count(db, 'opt_outs')).toBe(1);
    db.close();
  });

  it('redacts bodies and media older than a duration in hours, and deletes their idempotency keys', async () => {
    const write = new Database(database);
    write
      .prepare(
        `INSERT INTO idempotency_keys (key, request_hash, message_id, created_at) VALUES ('k7', 'h7', ?, 0)`,
      )
      .run(ids.week);
    write.close();
    const { code, stdout } = await runCli(
      ['db', 'prune', '--redact-bodies-older-than', '48h'],
      env(database),
    );
    expect(code).toBe(0);
    expect(stdout).toContain('Redacted the bodies of messages created before');
    expect(stdout).toContain(': 1 messages, 0 event payloads, 1 idempotency keys deleted.');
    const db = new Database(database, { readonly: true });
    expect(count(db, 'idempotency_keys')).toBe(0);
    const row = (id: string) =>
      db.prepare('SELECT body, media, redacted_at AS redactedAt FROM messages WHERE id = ?').get(id) as {
        body: string;
        media: string;
        redactedAt: number | null;
      };
    expect(row(ids.week!)).toMatchObject({ body: '', media: '[]', redactedAt: expect.any(Number) });
    expect(row(ids.today!)).toMatchObject({ body: 'just now', redactedAt: null });
    // Still in the outbox: it has to go out as written.
    expect(row(ids.queued!)).toMatchObject({ body: 'queued long ago, never sent', redactedAt: null });
    db.close();
  });

  it('refuses nonsense with a usage error that says what it takes', async () => {
    const cases: [string[], string][] = [
      [
        ['--older-than', '3 months'],
        '--older-than takes a whole number of days or hours, such as 90d or 12h; got "3 months".',
      ],
      [[], 'db prune needs --older-than (or --redact-bodies-older-than).'],
      [
        ['--older-than', '30d', '--redact-bodies-older-than', '30d'],
        '--redact-bodies-older-than (30d) must be shorter than --older-than (30d)',
      ],
      [['vacuum'], 'db prune takes no argument ("vacuum").'],
    ];
    await Promise.all(
      cases.map(async ([args, message]) => {
        const { code, stderr, stdout } = await runCli(['db', 'prune', ...args], env(database));
        expect(code, args.join(' ')).toBe(2);
        expect(stderr, args.join(' ')).toContain(message);
        expect(stdout).toBe('');
      }),
    );
  }, 60_000);

  it('reads durations in days or hours, and nothing else', () => {
    expect(parseDuration('90d', 'older-than')).toBe(90 * DAY);
    expect(parseDuration('12h', 'older-than')).toBe(12 * 3_600_000);
    const refused: [string, string][] = [
      ['90', 'got "90"'],
      ['1.5d', 'got "1.5d"'],
      ['-5d', 'got "-5d"'],
      ['12m', 'got "12m"'],
      ['d', 'got "d"'],
      ['0h', 'at least 1h; got "0h"'],
      ['0d', 'at least 1h; got "0d"'],
      ['36501d', 'at most 36500d; got "36501d"'],
    ];
    for (const [raw, says] of refused) {
      expect(() => parseDuration(raw, 'older-than'), raw).toThrow(says);
      expect(() => parseDuration(raw, 'older-than'), raw).toThrow(
        expect.objectContaining({ exitCode: 2, message: expect.stringMatching(/^--older-than takes /) }),
      );
    }
  });

  it('refuses a database that does not exist rather than create one', async () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'switchboard-prune-')), 'nope.db');
    const { code, stderr } = await runCli(['db', 'prune', '--older-than', '90d'], env(missing));
    expect(code).toBe(1);
    expect(stderr).toContain(`There is no database at ${missing} (DATABASE_URL`);
  });
});
