import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/db/sqlite.js';

const MIGRATIONS = join(import.meta.dirname, '../../src/db/migrations');
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
