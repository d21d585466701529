import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { commitGroup } from '../../src/db/group-commit.js';

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
});
