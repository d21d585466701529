import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { SqliteStore } from '../../src/db/sqlite.js';
import { signedTelnyx, telnyxKeys, telnyxReceived } from '../helpers/carriers.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-shutdown-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('graceful shutdown', () => {
  it('answers every webhook in flight 200 (stored) or 503 (not stored), never 5xx otherwise', async () => {
    const keys = telnyxKeys();
    const path = join(dir, 'gw.db');
    // The app owns and closes its store here, as in production.
    const app = await buildApp(
      loadConfig({ DATABASE_URL: path, LOG_LEVEL: 'silent', TELNYX_PUBLIC_KEY: keys.publicKey }),
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };

    const bodies = Array.from({ length: 40 }, (_, i) => telnyxReceived({ text: `in flight ${i}` }));
    // A connection refused or reset once closing began was never acknowledged: the carrier retries it (null).
    const sends = bodies.map((body) =>
      fetch(`http://127.0.0.1:${port}/webhooks`, { method: 'POST', ...signedTelnyx(keys, body) }).then(
        (res) => res.status,
        () => null,
      ),
    );
    // Close as soon as the first answer is back: the others are in flight at every stage of the pipeline.
    await Promise.race(sends);
    await app.close();
    const statuses = await Promise.all(sends);

    const acknowledged: string[] = [];
    statuses.forEach((status, i) => {
      if (status === null) return;
      expect([200, 503]).toContain(status);
      if (status === 200) acknowledged.push(bodies[i]!.data.payload.id);
    });
    expect(acknowledged.length).toBeGreaterThan(0);

    const store = await SqliteStore.open({ path });
    try {
      const stored = (await store.listMessages({}, { limit: 200 })).data.map((m) => m.providerMessageId);
      for (const id of acknowledged) expect(stored).toContain(id);
    } finally {
      await store.close();
    }
  });
});
