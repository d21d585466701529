import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { TWILIO_SID, TWILIO_TOKEN } from '../helpers/carriers.js';

// The commands that work on the database read only what they need, and agree with the gateway on which
// databases they refuse.

const root = mkdtempSync(join(tmpdir(), 'switchboard-db-commands-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const file = (name: string) => join(root, `${n++}-${name}`);

const carriers = {
  TWILIO_ACCOUNT_SID: TWILIO_SID,
  TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
  PUBLIC_BASE_URL: 'https://sms.example.com',
};

/** Records a migration this build does not ship, as a newer version's migrator would. */
function migrateAsNewerVersion(path: string): void {
  const db = new Database(path);
  const { last } = db.prepare('SELECT max(created_at) AS last FROM __drizzle_migrations').get() as {
    last: number;
  };
  db.prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)').run(
    'a-migration-from-the-future',
    Number(last) + 86_400_000,
  );
  db.close();
}

describe('switchboard migrate', () => {
  it('runs with DATABASE_URL alone: no carrier credentials needed', async () => {
    const database = file('alone.db');
    const result = await runCli(['migrate'], { DATABASE_URL: database });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Created .*alone\.db: applied 0000_init, /);
  });

  it('refuses a database migrated by a newer version, in one line', async () => {
    const database = file('newer.db');
    expect((await runCli(['migrate'], { DATABASE_URL: database })).code).toBe(0);
    migrateAsNewerVersion(database);
    const result = await runCli(['migrate'], { DATABASE_URL: database });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `The database at ${database} was migrated by a newer version of Switchboard (1 migration this version ` +
        'does not know); run that version or a later one, or restore a backup taken before the upgrade.',
    );
  });
});

describe('a DATABASE_URL these commands cannot use', () => {
  const url = 'postgres://switchboard:hunter2-secret@db.internal:5432/sb';

  it.each([['migrate'], ['keys', 'list'], ['db', 'prune', '--older-than', '90d']])(
    '%s names its scheme in one line, hides the password and creates nothing',
    async (...command) => {
      const result = await runCli(command, { DATABASE_URL: url });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        'DATABASE_URL is a postgres:// URL (postgres://***@db.internal:5432/sb)',
      );
      expect(result.stderr).not.toContain('hunter2');
      expect(result.stderr).not.toContain('    at '); // no stack trace
      // Not taken for a path (relative to the working directory): nothing was created.
      expect(existsSync('postgres:')).toBe(false);
    },
  );

  it('doctor reports it once among the problems, without the password', async () => {
    const result = await runCli(['doctor'], { ...carriers, DATABASE_URL: url });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      '[FAIL] DATABASE_URL is a postgres:// URL (postgres://***@db.internal:5432/sb)',
    );
    expect(result.stdout + result.stderr).not.toContain('hunter2');
  });
});

describe('switchboard doctor', () => {
  it('reports a configuration file that fails to load, and no follow-on "no API key"', async () => {
    const database = file('keys.db');
    expect((await runCli(['migrate'], { ...carriers, DATABASE_URL: database })).code).toBe(0);
    const config = file('broken.json');
    writeFileSync(config, '{ "providers": ');
    const { code, stdout } = await runCli(['doctor'], {
      ...carriers,
      DATABASE_URL: database,
      SWITCHBOARD_API_KEYS: 'an-api-key-of-24-chars!!',
      SWITCHBOARD_CONFIG: config,
    });
    expect(code).toBe(1);
    const fails = stdout.split('\n').filter((l) => l.startsWith('[FAIL]'));
    expect(fails).toEqual([expect.stringContaining(`SWITCHBOARD_CONFIG: ${config} is not valid JSON`)]);
    expect(stdout).toContain('[ ok ] API keys: 0 in the database, 1 in SWITCHBOARD_API_KEYS');
    expect(stdout).toMatch(/\[ ok \] database .*keys\.db: reachable/);
  });

  it('still says "no API key" when it knows there is none, whatever else fails', async () => {
    const database = file('none.db');
    expect((await runCli(['migrate'], { ...carriers, DATABASE_URL: database })).code).toBe(0);
    const { stdout } = await runCli(['doctor'], {
      ...carriers,
      DATABASE_URL: database,
      SWITCHBOARD_CONFIG: file('missing.json'),
    });
    expect(stdout).toContain('[FAIL] SWITCHBOARD_CONFIG: cannot read');
    expect(stdout).toContain('[FAIL] no API key: the API answers 401 to everyone');
  });

  it('fails on a database migrated by a newer version', async () => {
    const database = file('newer.db');
    expect((await runCli(['migrate'], { ...carriers, DATABASE_URL: database })).code).toBe(0);
    migrateAsNewerVersion(database);
    const { code, stdout } = await runCli(['doctor'], {
      ...carriers,
      DATABASE_URL: database,
      SWITCHBOARD_API_KEYS: 'an-api-key-of-24-chars!!',
    });
    expect(code).toBe(1);
    expect(stdout).toContain(
      `[FAIL] The database at ${database} was migrated by a newer version of Switchboard (1 migration`,
    );
  });
});
