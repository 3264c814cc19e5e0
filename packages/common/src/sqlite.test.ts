import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "./sqlite.js";

describe("openDatabase", () => {
  const dirs: string[] = [];
  const freshPath = () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-sqlite-"));
    dirs.push(dir);
    return join(dir, "store.db");
  };
  afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it("applies each migration once, across opens", () => {
    const path = freshPath();
    const migrations = ["CREATE TABLE a (x INTEGER)", "INSERT INTO a VALUES (1)"];
    openDatabase(path, migrations).close();
    const db = openDatabase(path, [...migrations, "INSERT INTO a VALUES (2)"]);
    expect(db.prepare("SELECT x FROM a ORDER BY x").pluck().all()).toEqual([1, 2]);
    db.close();
  });

  it("refuses a file a newer version migrated further, saying so", () => {
    const path = freshPath();
    openDatabase(path, ["CREATE TABLE a (x INTEGER)", "ALTER TABLE a ADD COLUMN y INTEGER"]).close();
    expect(() => openDatabase(path, ["CREATE TABLE a (x INTEGER)"])).toThrow(/written by a newer Ballast \(schema 2; this version knows 1\)/);
  });
});
