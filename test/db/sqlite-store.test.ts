import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { InboundMessageEvent } from '../../src/core/provider.js';
import { v7 as uuidv7 } from 'uuid';
import { firstIdAt } from '../../src/db/ids.js';
import { SqliteStore } from '../../src/db/sqlite/sqlite.js';
import { describeEventStoreContract } from './event-store-contract.js';
import { describeStoreContract, inbound } from './store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-store-'));
let files = 0;
const fileStore = () => SqliteStore.open({ path: join(dir, `nested/${++files}.db`) });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreContract('SQLite :memory:', () => SqliteStore.open({ path: ':memory:' }));
describeStoreContract('SQLite file', fileStore);
describeEventStoreContract('SQLite :memory:', () => SqliteStore.open({ path: ':memory:' }));

describe('SqliteStore', () => {
  it('opens a file database in WAL mode with synchronous=FULL and foreign keys on', async () => {
    const store = await fileStore();
    expect(await store.pragma('journal_mode')).toBe('wal');
    expect(await store.pragma('synchronous')).toBe(2); // FULL
    expect(await store.pragma('foreign_keys')).toBe(1);
    expect(await store.pragma('temp_store')).toBe(2); // MEMORY
    expect(await store.pragma('secure_delete')).toBe(2); // FAST: deleted content zeroed in pages written anyway
    await store.close();
  });

  it('keeps what it acknowledged after the database is closed and reopened', async () => {
    const path = join(dir, 'reopen.db');
    const first = await SqliteStore.open({ path });
    const [r] = await first.ingest([{ event: inbound(), optOut: null }]);
    await first.close();
    const second = await SqliteStore.open({ path });
    expect(await second.getMessage(r!.messageId)).toMatchObject({ status: 'received' });
    await second.close();
  });

  it('commits concurrent writes together and fails a bad write alone', async () => {
    const store = await SqliteStore.open({ path: ':memory:' });
    const broken = inbound({ provider: null as unknown as InboundMessageEvent['provider'] }); // violates NOT NULL
    const writes = [
      store.ingest([{ event: inbound(), optOut: null }]),
      store.ingest([{ event: broken, optOut: null }]),
      store.ingest([{ event: inbound(), optOut: null }]),
    ];
    const settled = await Promise.allSettled(writes);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await store.listMessages({}, { limit: 10 })).data).toHaveLength(2);
    await store.close();
  });

  it('stores the events of one webhook atomically: all or none', async () => {
    const store = await SqliteStore.open({ path: ':memory:' });
    const good = inbound();
    const broken = inbound({ provider: null as unknown as InboundMessageEvent['provider'] });
    await expect(
      store.ingest([
        { event: good, optOut: null },
        { event: broken, optOut: null },
      ]),
    ).rejects.toThrow();
    expect((await store.listMessages({}, { limit: 10 })).data).toHaveLength(0);
    // The good event was rolled back with its webhook, so the carrier's retry stores it.
    const [retry] = await store.ingest([{ event: good, optOut: null }]);
    expect(retry?.outcome).toBe('stored');
    await store.close();
  });

  it('sees a duplicate delivered concurrently in the same batch', async () => {
    const store = await SqliteStore.open({ path: ':memory:' });
    const event = inbound();
    const [a, b] = await Promise.all([
      store.ingest([{ event, optOut: null }]),
      store.ingest([{ event, optOut: null }]),
    ]);
    expect([a[0]!.outcome, b[0]!.outcome].sort()).toEqual(['duplicate', 'stored']);
    await store.close();
  });

  it('waits for another writer to release the database instead of failing at once', async () => {
    const path = join(dir, 'busy.db');
    const store = await SqliteStore.open({ path });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE'); // another process holding the write lock, e.g. during a rolling deploy
    setTimeout(() => other.exec('COMMIT'), 300);
    const [result] = await store.ingest([{ event: inbound(), optOut: null }]);
    expect(result?.outcome).toBe('stored');
    other.close();
    await store.close();
  });

  it('finishes pending writes before closing', async () => {
    const store = await SqliteStore.open({ path: join(dir, 'drain.db') });
    const pending = store.ingest([{ event: inbound(), optOut: null }]);
    await store.close();
    await expect(pending).resolves.toHaveLength(1);
  });
});

describe('SqliteStore readiness probe', () => {
  /** A write that needs new pages fails with SQLITE_FULL: readiness then probes at every check (once a second). */
  async function fillUp(store: SqliteStore): Promise<void> {
    await store.pragma('max_page_count', (await store.pragma('page_count')) as number);
    await expect(
      store.ingest([{ event: inbound({ body: 'x'.repeat(50_000) }), optOut: null }]),
    ).rejects.toThrow('database or disk is full');
    await expect(store.checkReady(1_500)).rejects.toThrow('database or disk is full');
  }

  it('is one small commit that leaves the database as it was: no page added, one WAL frame', async () => {
    const path = join(dir, 'probe-cost.db');
    const store = await SqliteStore.open({ path });
    try {
      await fillUp(store);
      await store.pragma('max_page_count', 1_000_000_000);
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // the next probe is due
      const pages = await store.pragma('page_count');
      const wal = statSync(`${path}-wal`).size;
      await store.checkReady(1_500); // the probe ran: the failure is cleared
      expect(await store.pragma('page_count')).toBe(pages);
      // A WAL frame is a page and its 24-byte header.
      const reader = new Database(path, { readonly: true });
      const pageSize = Number(reader.pragma('page_size', { simple: true }));
      reader.close();
      expect(statSync(`${path}-wal`).size - wal).toBeLessThanOrEqual(pageSize + 24);
    } finally {
      await store.close();
    }
  });

  it('reports no room when the disk has less free space than it asks for, checked directly', async () => {
    const store = await SqliteStore.open({
      path: join(dir, 'no-room.db'),
      minFreeDiskBytes: Number.MAX_SAFE_INTEGER,
    });
    try {
      await fillUp(store);
      // Room again under max_page_count, not on the disk (as far as this store is concerned).
      await store.pragma('max_page_count', 1_000_000_000);
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // the next probe is due
      await expect(store.checkReady(1_500)).rejects.toThrow(
        /database or disk is full: \d+ bytes free on the database's disk/,
      );
    } finally {
      await store.close();
    }
  });
});

describe('firstIdAt', () => {
  it('bounds the UUIDv7 ids of a millisecond from below, and no earlier id', () => {
    for (const ms of [0, 1_700_000_000_000, Date.now(), 2 ** 40 + 12_345]) {
      const id = uuidv7({ msecs: ms });
      expect(id >= firstIdAt(ms)).toBe(true);
      expect(id < firstIdAt(ms + 1)).toBe(true);
      expect(uuidv7({ msecs: ms - 1 }) < firstIdAt(ms) || ms === 0).toBe(true);
    }
  });
});
