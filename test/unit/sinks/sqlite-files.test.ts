// What is at the store's path when the server starts is not always our store: a text file, a
// SQLite database of another program (someone pointed --data-dir at the wrong directory), or a
// store whose first page was damaged. Each is refused with an error that says what it is and
// that nothing was changed, and not one byte of the file changes (no WAL switch, no tables).
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVENT_STORE_FILE, openEventStore, StoreFileError } from '../../../lib/sinks/sqlite.js';
import { tempDataDir } from '../../helpers/ingest.js';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('a file at the store path that is not an aisoc-k8s-audit store', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let file: string;
  beforeEach(() => {
    tmp = tempDataDir('aisoc-store-files-');
    file = join(tmp.dir, EVENT_STORE_FILE);
  });
  afterEach(() => tmp.remove());

  /** Opening refuses with `message`, and leaves the file byte for byte as it was, with no WAL beside it. */
  function expectRefused(message: RegExp): void {
    const before = sha(file);
    expect(() => openEventStore(tmp.dir)).toThrow(StoreFileError);
    expect(() => openEventStore(tmp.dir)).toThrow(message);
    expect(sha(file)).toBe(before);
    expect(existsSync(`${file}-wal`)).toBe(false);
  }

  it('refuses a file that is not SQLite', () => {
    writeFileSync(file, '{"kind":"EventList","items":[]}\n');
    expectRefused(/is not a SQLite database .*nothing in it was changed: move it away/);
  });

  it('refuses the SQLite database of another program, by its tables or its application_id', () => {
    const other = new Database(file);
    other.exec("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT); INSERT INTO moz_places (url) VALUES ('https://example.com')");
    other.close();
    expectRefused(
      /is a SQLite database of another program \(tables moz_places\), not an aisoc-k8s-audit event store; nothing in it was changed/,
    );

    const tagged = new Database(file);
    tagged.exec('DROP TABLE moz_places');
    tagged.pragma('application_id = 1179403647');
    tagged.close();
    expectRefused(/another program \(application_id 1179403647\)/);
  });

  it('refuses a store whose first page is damaged, naming it as possibly corrupt', () => {
    const store = openEventStore(tmp.dir);
    store.close();
    const bytes = readFileSync(file);
    // Keep the 100-byte header, garble the schema on the rest of page 1.
    for (let i = 100; i < 4096; i++) bytes[i] = (i * 31) & 0xff;
    writeFileSync(file, bytes);
    expectRefused(/cannot be read as an aisoc-k8s-audit event store \(.*\); it may be corrupt; nothing in it was changed/);
  });

  it("refuses another program's WAL database left by a killed writer without folding its WAL in or deleting it", () => {
    // The three files of a writer killed mid-run: copied while its connection is still open.
    const src = tempDataDir('aisoc-store-files-src-');
    try {
      const srcFile = join(src.dir, 'app.sqlite');
      const writer = new Database(srcFile);
      writer.pragma('journal_mode = WAL');
      writer.pragma('wal_autocheckpoint = 0');
      writer.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)');
      const insert = writer.prepare('INSERT INTO users (name) VALUES (?)');
      for (let i = 0; i < 200; i++) insert.run(`user-${i}`);
      for (const ext of ['', '-wal', '-shm']) copyFileSync(`${srcFile}${ext}`, `${file}${ext}`);
      writer.close();
    } finally {
      src.remove();
    }
    const before = ['', '-wal'].map((ext) => sha(`${file}${ext}`));

    expect(() => openEventStore(tmp.dir)).toThrow(/is a SQLite database of another program \(tables users\).*nothing in it was changed/);

    // The database and its log as they were; the -shm (SQLite's index of the log, rebuilt from it by
    // any reader) is still there for the other program's next open.
    expect(['', '-wal'].map((ext) => sha(`${file}${ext}`))).toEqual(before);
    expect(existsSync(`${file}-shm`)).toBe(true);
    const other = new Database(file, { readonly: true });
    expect(other.prepare('SELECT count(*) FROM users').pluck().get()).toBe(200);
    other.close();
  });

  it('refuses a directory at the store path, naming it', () => {
    mkdirSync(file);
    expect(() => openEventStore(tmp.dir)).toThrow(StoreFileError);
    expect(() => openEventStore(tmp.dir)).toThrow(`${file} is not a file (a directory or a device)`);
  });

  it('opens its own store again, and marks a new one as its own', () => {
    openEventStore(tmp.dir).close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('application_id', { simple: true })).toBe(0x41495343);
    db.close();
    expect(() => openEventStore(tmp.dir).close()).not.toThrow();
  });
});
