import { afterEach, describe, expect, it } from 'vitest';
import { Activity } from '../../src/dashboard/activity.js';
import { SnapshotBuilder } from '../../src/dashboard/snapshot.js';
import { SqliteStore } from '../../src/db/sqlite/sqlite.js';
import { inbound } from '../db/store-contract.js';

// The dashboard's snapshot over a real store (SQLite with the real migrations).

const HOUR = 3_600_000;

let store: SqliteStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

/** An event whose delivery to `app` has just failed once (a 503), recorded straight in the store. */
async function failedDelivery(s: SqliteStore): Promise<void> {
  await s.ingest([{ event: inbound(), optOut: null }]);
  const [due] = await s.loadDueDeliveries('app', Date.now(), [], 10);
  await s.recordDelivery({
    deliveryId: due!.id,
    attempt: { outcome: 'retry', statusCode: 503, error: 'HTTP 503', startedAt: Date.now(), durationMs: 5 },
    nextAttemptAt: Date.now() + 60_000,
    disable: null,
    claimReply: null,
  });
}

describe('SnapshotBuilder', () => {
  it('reads the delivery failures again after 30 s on the monotonic clock, whatever the wall clock does', async () => {
    store = await SqliteStore.open({ path: ':memory:' });
    await store.syncEndpoints([{ id: 'app', url: 'https://app.example/hook', events: ['message.received'] }]);
    const wall = { offset: 0 };
    let monotonic = 0;
    const builder = new SnapshotBuilder({
      store,
      activity: new Activity(() => Date.now() + wall.offset),
      dispatcher: { stats: () => new Map() },
      deliverer: { stats: () => new Map() },
      monotonic: () => monotonic,
    });
    expect((await builder.build()).eventFailures).toEqual([]);

    // A failure this process's deliverer did not count (another gateway's, on the same database), and the wall
    // clock stepped back an hour.
    await failedDelivery(store);
    wall.offset = -HOUR;
    monotonic += 1_000;
    // Within 30 s the list read last is shown (one read per event would be too many for every tick)...
    expect((await builder.build()).eventFailures).toEqual([]);
    // ...and after 30 s, on the monotonic clock, the list is read again: not an hour and 30 s later.
    monotonic += 30_000;
    const failures = (await builder.build()).eventFailures;
    expect(failures.map((f) => [f.endpointId, f.state, f.statusCode])).toEqual([['app', 'pending', 503]]);
  });
});
