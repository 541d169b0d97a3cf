import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteStore } from "../../src/stores/sqlite/index.js";
import { runStoreConformance } from "../conformance/store-suite.js";

let dir: string | undefined;
let path = "";

runStoreConformance("sqlite", {
  async open() {
    dir = mkdtempSync(join(tmpdir(), "threadline-sqlite-"));
    path = join(dir, "nested", "threadline.db");
    return createSqliteStore({ path });
  },
  async reopen() {
    return createSqliteStore({ path });
  },
  async peer() {
    return createSqliteStore({ path });
  },
  async cleanup() {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  },
});
