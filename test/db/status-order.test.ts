import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATUS_RANK, STATUSES, type Status } from '../../src/core/message.js';
import { SqliteStore } from '../../src/db/sqlite/sqlite.js';
import { status } from './store-contract.js';

let store: SqliteStore;
beforeAll(async () => {
  store = await SqliteStore.open({ path: ':memory:' });
});
afterAll(async () => store.close());

const outbound = STATUSES.filter((s) => s !== 'received');

describe('status callbacks in any order', () => {
  it('leave a message at the highest-ranked status reported, with every callback in its history', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.constantFrom(...outbound), { minLength: 1, maxLength: outbound.length }),
        async (arrivals: Status[]) => {
          const sid = `SMorder${++n}`;
          let messageId = '';
          for (const s of arrivals) {
            const [r] = await store.ingest([{ event: status(sid, s), optOut: null }]);
            messageId = r!.messageId;
          }
          const message = await store.getMessage(messageId);
          const top = Math.max(...arrivals.map((s) => STATUS_RANK[s]), STATUS_RANK.queued);
          expect(STATUS_RANK[message!.status]).toBe(top);
          // Among equal-ranked failures the first to arrive stands.
          expect(message!.status).toBe(arrivals.find((s) => STATUS_RANK[s] === top) ?? 'queued');
          expect(message!.events.map((e) => e.status)).toEqual(arrivals);
        },
      ),
      { numRuns: 150 },
    );
  });
});
