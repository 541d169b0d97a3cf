import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteStore } from "../../src/stores/sqlite/index.js";
import { runTriggerConformance } from "../conformance/trigger-suite.js";

runTriggerConformance("sqlite", () => {
  const dir = mkdtempSync(join(tmpdir(), "threadline-trig-"));
  const path = join(dir, "t.db");
  return {
    open: () => createSqliteStore({ path }),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
