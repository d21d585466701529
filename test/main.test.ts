import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/db/sqlite/sqlite.js';
import { formBody, TWILIO_SID, TWILIO_TOKEN, twilioInbound, twilioSignature } from './helpers/carriers.js';
import { json } from './helpers/gateway.js';
import { startProcess as start, waitReady } from './helpers/process.js';
import { freePort } from './helpers/send-gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-main-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the gateway process', () => {
  it('starts, creates and migrates its database, logs no numbers or secrets, and stops on SIGTERM', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const db = join(dir, 'data', 'switchboard.db');
    const apiKey = 'process-test-key-abcdef';
    const gateway = start({
      PORT: String(port),
      DATABASE_URL: db,
      LOG_LEVEL: 'debug',
      PUBLIC_BASE_URL: base,
      TWILIO_ACCOUNT_SID: TWILIO_SID,
      TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
      SWITCHBOARD_API_KEYS: apiKey,
    });
    try {
      await waitReady(base);
      expect(existsSync(db)).toBe(true);
      const params = twilioInbound({ From: '+14155550987', Body: 'a very private message' });
      const signature = twilioSignature(`${base}/webhooks`, params);
      const res = await fetch(`${base}/webhooks`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: formBody(params),
      });
      expect(res.status).toBe(200);
      const list = await fetch(`${base}/v1/messages?from=%2B14155550987`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      expect((await json(list)).data).toHaveLength(1);
      await fetch(`${base}/webhooks`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'forged' },
        body: formBody(params),
      });

      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(0);
      const log = gateway.output();
      expect(log).toContain('twilio enabled');
      expect(log).toContain('telnyx disabled: set TELNYX_PUBLIC_KEY');
      expect(log).toContain('signature_invalid');
      for (const secret of ['14155550987', 'a very private message', signature, apiKey, TWILIO_TOKEN]) {
        expect(log).not.toContain(secret);
      }
    } finally {
      gateway.child.kill('SIGKILL');
    }
  });

  it('refuses to start with Twilio but neither PUBLIC_BASE_URL nor TRUST_PROXY=true, saying why', async () => {
    const gateway = start({
      PORT: String(await freePort()),
      DATABASE_URL: ':memory:',
      TWILIO_ACCOUNT_SID: TWILIO_SID,
      TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
    });
    try {
      expect(await gateway.exited).toBe(1);
      expect(gateway.output()).toContain(
        'TWILIO_ACCOUNT_SID is set but PUBLIC_BASE_URL is not: Twilio signs the exact URL it calls',
      );
      expect(gateway.output()).toContain('or TRUST_PROXY=true if your own proxy sets X-Forwarded-Proto');
    } finally {
      gateway.child.kill('SIGKILL');
    }
  });

  it('runs a sandbox without carrier credentials: sent messages get delivery receipts from the simulator', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const apiKey = 'sandbox-test-key-abcdef';
    const gateway = start({
      PORT: String(port),
      DATABASE_URL: join(dir, 'sandbox.db'),
      SWITCHBOARD_SANDBOX: 'true',
      SWITCHBOARD_API_KEYS: apiKey,
    });
    try {
      await waitReady(base);
      const auth = { authorization: `Bearer ${apiKey}` };
      const ids: string[] = [];
      for (const provider of ['twilio', 'telnyx']) {
        const res = await fetch(`${base}/v1/messages`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ to: '+14155550987', body: 'hello sandbox', provider }),
        });
        expect(res.status).toBe(202);
        ids.push((await json(res)).id);
      }
      for (const id of ids) {
        let status = '';
        for (let i = 0; i < 100 && status !== 'delivered'; i++) {
          status = (await json(await fetch(`${base}/v1/messages/${id}`, { headers: auth }))).status;
          if (status !== 'delivered') await new Promise((r) => setTimeout(r, 50));
        }
        expect(status).toBe('delivered');
      }
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(0);
      const log = gateway.output();
      expect(log).toContain('SANDBOX MODE');
      for (const secret of ['14155550987', 'hello sandbox', apiKey]) expect(log).not.toContain(secret);
    } finally {
      gateway.child.kill('SIGKILL');
    }
  });

  it('refuses to start, saying why, when the database cannot be opened', async () => {
    const blocked = join(dir, 'not-a-dir');
    writeFileSync(blocked, 'a file where a directory should be');
    const gateway = start({
      PORT: String(await freePort()),
      DATABASE_URL: join(blocked, 'switchboard.db'),
      SWITCHBOARD_SANDBOX: 'true',
    });
    expect(await gateway.exited).toBe(1);
    expect(gateway.output()).toContain('Switchboard could not start: Cannot open the database at');
    expect(gateway.output()).toContain('DATABASE_URL');
  });

  it('refuses to start, in one line, on a database migrated by a newer version', async () => {
    const path = join(dir, 'newer.db');
    const store = await SqliteStore.open({ path });
    await store.close();
    const db = new Database(path);
    // What a newer version's migrator leaves: a migration this build does not ship.
    db.prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)').run(
      'future',
      4_102_444_800_000,
    );
    db.close();
    const gateway = start({
      PORT: String(await freePort()),
      DATABASE_URL: path,
      SWITCHBOARD_SANDBOX: 'true',
    });
    expect(await gateway.exited).toBe(1);
    expect(gateway.output().trim()).toBe(
      `Switchboard could not start: The database at ${path} was migrated by a newer version of Switchboard ` +
        '(1 migration this version does not know); run that version or a later one, or restore a backup taken ' +
        'before the upgrade.',
    );
  });

  it('refuses to start on bad configuration, naming every bad variable', async () => {
    const gateway = start({ PORT: 'eighty', PROCESSING_MODE: 'slow', DATABASE_URL: join(dir, 'never.db') });
    expect(await gateway.exited).toBe(1);
    expect(gateway.output()).toContain('PORT must be');
    expect(gateway.output()).toContain('PROCESSING_MODE must be');
    expect(existsSync(join(dir, 'never.db'))).toBe(false);
  });
});
