import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { commitGroup } from '../../src/db/sqlite/group-commit.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-group-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function db() {
  const sqlite = new Database(':memory:');
  sqlite.exec('CREATE TABLE t (a TEXT NOT NULL); CREATE TABLE failing (a TEXT)');
  // Stands in for disk full / I/O errors: SQLite rolls back the whole transaction by itself.
  sqlite.exec("CREATE TRIGGER abort BEFORE INSERT ON failing BEGIN SELECT RAISE(ROLLBACK, 'disk full'); END");
  const insert = sqlite.prepare('INSERT INTO t (a) VALUES (?)');
  const rows = () =>
    (sqlite.prepare('SELECT a FROM t ORDER BY rowid').all() as { a: string }[]).map((r) => r.a);
  return { sqlite, insert, rows };
}

describe('commitGroup', () => {
  it('commits every write of a group and reports each outcome', () => {
    const { sqlite, insert, rows } = db();
    const outcomes = commitGroup(sqlite, [() => insert.run('a').changes, () => insert.run('b').changes]);
    expect(outcomes).toEqual([
      { ok: true, value: 1 },
      { ok: true, value: 1 },
    ]);
    expect(rows()).toEqual(['a', 'b']);
  });

  it('fails a failing write alone and commits the others', () => {
    const { sqlite, insert, rows } = db();
    const outcomes = commitGroup(sqlite, [
      () => insert.run('a'),
      () => insert.run(null), // NOT NULL
      () => insert.run('c'),
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    expect(rows()).toEqual(['a', 'c']);
  });

  it('abandons the whole group when SQLite rolls the transaction back itself', () => {
    const { sqlite, insert, rows } = db();
    expect(() =>
      commitGroup(sqlite, [
        () => insert.run('a'),
        () => sqlite.prepare("INSERT INTO failing VALUES ('x')").run(),
        () => insert.run('c'),
      ]),
    ).toThrow(/disk full/);
    // Nothing was reported done, and nothing ran, or committed, outside the transaction.
    expect(rows()).toEqual([]);
    expect(sqlite.inTransaction).toBe(false);
  });

  it('fails the whole group at once when another connection holds the write lock: one wait, not two', () => {
    const path = join(dir, 'locked.db');
    const sqlite = new Database(path);
    sqlite.pragma('journal_mode = WAL');
    sqlite.exec('CREATE TABLE t (a TEXT NOT NULL)');
    const BUSY_TIMEOUT_MS = 1_000;
    sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const locker = new Database(path);
    locker.exec('BEGIN IMMEDIATE');
    try {
      let ran = 0;
      const started = performance.now();
      expect(() => commitGroup(sqlite, [() => ran++, () => ran++])).toThrow(
        expect.objectContaining({ code: 'SQLITE_BUSY' }),
      );
      const waited = performance.now() - started;
      // SQLite waits busy_timeout for the lock (a little more: it sleeps in steps); a replay would wait as much
      // again.
      expect(waited).toBeGreaterThanOrEqual(BUSY_TIMEOUT_MS * 0.9);
      expect(waited).toBeLessThan(BUSY_TIMEOUT_MS * 1.6);
      expect(ran).toBe(0);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
      sqlite.close();
    }
  });

  it('fails the whole group, without a replay, when a write finds the disk full', () => {
    const { sqlite, insert, rows } = db();
    // A real SQLITE_FULL: the database may not take another page.
    sqlite.pragma(`max_page_count = ${Number(sqlite.pragma('page_count', { simple: true }))}`);
    let runs = 0;
    expect(() =>
      commitGroup(sqlite, [
        () => {
          runs++;
          return insert.run('small');
        },
        () => insert.run('x'.repeat(100_000)),
      ]),
    ).toThrow(expect.objectContaining({ code: 'SQLITE_FULL' }));
    // Nothing was reported done, nothing committed, and no write ran twice.
    expect(runs).toBe(1);
    expect(rows()).toEqual([]);
    expect(sqlite.inTransaction).toBe(false);
  });
});
