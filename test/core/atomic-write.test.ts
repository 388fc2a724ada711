import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { tempBeside, writeAtomically } from "../../src/core/atomic-write.js";
import { tempDir } from "../helpers.js";

describe("atomic writes", () => {
  it("replace a file whole, and leave nothing else beside it", () => {
    const dir = tempDir();
    const path = join(dir, "lock.json");
    writeAtomically(path, "old\n");
    writeAtomically(path, Buffer.from("new\n"));
    assert.equal(readFileSync(path, "utf8"), "new\n");
    assert.deepEqual(readdirSync(dir), ["lock.json"]);
  });

  it("throw when the rename cannot happen, and remove their temporary file", () => {
    const dir = tempDir();
    const path = join(dir, "taken");
    mkdirSync(join(path, "inside"), { recursive: true });
    assert.throws(() => writeAtomically(path, "x"), /EISDIR|ENOTEMPTY|EEXIST|EPERM/);
    assert.deepEqual(readdirSync(dir), ["taken"]);
  });

  it("name each write's temporary file its own, beside the target, ending in .tmp", () => {
    const a = tempBeside("/x/y.lock");
    const b = tempBeside("/x/y.lock");
    assert.notEqual(a, b);
    assert.match(a, new RegExp(`^/x/y\\.lock\\.${process.pid}\\.[0-9a-f]{8}\\.tmp$`));
  });
});
