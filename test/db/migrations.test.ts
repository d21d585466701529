import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/db/sqlite/sqlite.js';

const MIGRATIONS = join(import.meta.dirname, '../../src/db/sqlite/migrations');
const dir = mkdtempSync(join(tmpdir(), 'switchboard-migrations-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The migrations folder as it was at an earlier release: only the first `count` migrations. */
function migrationsUpTo(count: number): string {
  const folder = join(dir, `migrations-${count}`);
  mkdirSync(join(folder, 'meta'), { recursive: true });
  const journal = JSON.parse(readFileSync(join(MIGRATIONS, 'meta/_journal.json'), 'utf8')) as {
    entries: { idx: number; tag: string }[];
  };
  journal.entries = journal.entries.slice(0, count);
  writeFileSync(join(folder, 'meta/_journal.json'), JSON.stringify(journal));
  for (const entry of journal.entries)
    cpSync(join(MIGRATIONS, `${entry.tag}.sql`), join(folder, `${entry.tag}.sql`));
  return folder;
}

describe('upgrading a database', () => {
  it('gives pending event deliveries their heads, and a message’s own callbacks an order of their own', async () => {
    const path = join(dir, 'upgrade-deliveries.db');
    const old = new Database(path);
    migrate(drizzle({ client: old }), { migrationsFolder: migrationsUpTo(4) });
    const message = old.prepare(
      `INSERT INTO messages (id, provider, direction, channel, from_number, to_number, body, status, created_at,
         updated_at)
       VALUES (?, 'twilio', 'outbound', 'sms', '+14155550100', '+14155550123', 'hi', 'delivered', 1, 1)`,
    );
    const event = old.prepare(
      `INSERT INTO events (id, type, message_id, conversation, payload, created_at)
       VALUES (?, 'message.status', ?, '+14155550123', '{}', 1)`,
    );
    const delivery = old.prepare(
      `INSERT INTO event_deliveries (event_id, endpoint_id, url, conversation, state, attempts, next_attempt_at,
         created_at, updated_at)
       VALUES (?, ?, ?, '+14155550123', ?, 0, 1, 1, 1)`,
    );
    const messages = ['0190a1b2-0000-7000-8000-00000000000a', '0190a1b2-0000-7000-8000-00000000000b'];
    messages.forEach((id, m) => {
      message.run(id);
      for (let e = 0; e < 2; e += 1) {
        const eventId = `0190a1b2-0000-7000-8000-0000000000${m}${e}`;
        event.run(eventId, id);
        // The first event of the first message was delivered to the app already.
        delivery.run(eventId, 'default', null, m === 0 && e === 0 ? 'delivered' : 'pending');
        delivery.run(eventId, 'status-callback', `https://app.example/${m}`, 'pending');
      }
    });
    old.close();

    const store = await SqliteStore.open({ path });
    try {
      // One conversation (the number) for the app: its first pending delivery only.
      const app = await store.loadDueDeliveries('default', Date.now(), [], 10);
      expect(app.map((d) => d.eventId)).toEqual(['0190a1b2-0000-7000-8000-000000000001']);
      // The callbacks were ordered by the number; now each message has its own first one.
      const callbacks = await store.loadDueDeliveries('status-callback', Date.now(), [], 10);
      expect(callbacks.map((d) => [d.conversation, d.eventId])).toEqual([
        [messages[0], '0190a1b2-0000-7000-8000-000000000000'],
        [messages[1], '0190a1b2-0000-7000-8000-000000000010'],
      ]);
    } finally {
      await store.close();
    }
  });

  it('puts replies queued before the send pipeline existed into the outbox, so they are sent', async () => {
    const path = join(dir, 'upgrade.db');
    const old = new Database(path);
    migrate(drizzle({ client: old }), { migrationsFolder: migrationsUpTo(1) });
    const insert = old.prepare(
      `INSERT INTO messages (id, provider, provider_message_id, direction, channel, from_number, to_number, body,
         status, created_at, updated_at)
       VALUES (?, 'telnyx', ?, 'outbound', 'sms', '+13125550001', '+14155550123', 'a reply', ?, 1, 1)`,
    );
    insert.run('0190a1b2-0000-7000-8000-000000000001', null, 'queued');
    insert.run('0190a1b2-0000-7000-8000-000000000002', 'sent-already', 'delivered');
    old.close();

    const store = await SqliteStore.open({ path });
    try {
      const rows = await store.loadOutbox('telnyx', null, 10);
      expect(rows.map((r) => r.messageId)).toEqual(['0190a1b2-0000-7000-8000-000000000001']);
      expect(rows[0]).toMatchObject({ to: '+14155550123', body: 'a reply', attempts: 0 });
    } finally {
      await store.close();
    }
  });
});

describe('the migrated schema', () => {
  it('keeps webhook signatures in a WITHOUT ROWID table (hand-written: drizzle cannot declare it)', async () => {
    const path = join(dir, 'signatures.db');
    await (await SqliteStore.open({ path })).close();
    const db = new Database(path, { readonly: true });
    try {
      // `wr`: the table is WITHOUT ROWID. A regenerated migration loses the clause unless it is written again.
      expect(db.prepare("PRAGMA table_list('webhook_signatures')").get()).toMatchObject({ wr: 1 });
    } finally {
      db.close();
    }
  });
});
