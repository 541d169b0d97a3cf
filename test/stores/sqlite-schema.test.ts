import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSqliteStore, SCHEMA_VERSION } from "../../src/stores/sqlite/index.js";
import { activeRun, newRun, runStarted } from "../conformance/store/fixtures.js";

describe("sqlite schema", () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "threadline-schema-"));
    path = join(dir, "deep", "er", "threadline.db");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("creates the file and its directory in WAL mode at the current user_version", async () => {
    const store = createSqliteStore({ path });
    await store.threads.ensure("t");
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    // Reopening an up-to-date file keeps its data and migrates nothing.
    const again = createSqliteStore({ path });
    expect((await again.threads.get("t"))?.threadId).toBe("t");
    await again.close();
  });

  it("a file keeps its epoch across reopens; a file created again has another", async () => {
    const store = createSqliteStore({ path });
    const epoch = store.epoch;
    expect(epoch).toMatch(/^\d+$/);
    await store.close();
    const again = createSqliteStore({ path });
    expect(again.epoch).toBe(epoch);
    await again.close();
    rmSync(path);
    const fresh = createSqliteStore({ path });
    expect(fresh.epoch).not.toBe(epoch);
    await fresh.close();
  });

  it("two stores opening a fresh file at once both end up on the same schema", async () => {
    const [a, b] = [createSqliteStore({ path }), createSqliteStore({ path })];
    await a.threads.ensure("x");
    expect((await b.threads.get("x"))?.threadId).toBe("x");
    await a.close();
    await b.close();
  });

  it("a file from before the fencing-token floor upgrades, and a recreated thread issues tokens above the deleted one's", async () => {
    const store = createSqliteStore({ path });
    const held = await activeRun(store, "old-thread");
    const again = (await store.runs.takeOver("old-thread", held.run.runId, {
      owner: "o",
      leaseMs: 1_000,
      now: 1,
      force: true,
    }))!;
    await store.close();
    // Back to version 1: no counters table yet (nor the later runs and compaction columns).
    const db = new Database(path);
    db.exec("DROP TABLE counters");
    db.exec("ALTER TABLE runs DROP COLUMN started_by; ALTER TABLE runs DROP COLUMN cancelled_by");
    db.exec("ALTER TABLE threads DROP COLUMN horizon");
    db.exec("ALTER TABLE messages DROP COLUMN seq");
    db.exec("DROP INDEX threads_by_interrupts_due");
    db.exec("ALTER TABLE threads DROP COLUMN interrupts_due_at");
    db.exec("ALTER TABLE threads DROP COLUMN interrupts");
    db.exec("ALTER TABLE runs DROP COLUMN trace");
    db.pragma("user_version = 1");
    db.close();
    const upgraded = createSqliteStore({ path });
    expect(await upgraded.threads.delete("old-thread")).toBe(true);
    const fresh = await activeRun(upgraded, "old-thread");
    expect(fresh.fence.token).toBeGreaterThan(again.fence.token);
    await upgraded.close();
  });

  it("a file from before compaction upgrades: horizon 0, its messages count as written at seq 0", async () => {
    const store = createSqliteStore({ path });
    const { fence, run } = await activeRun(store, "t");
    await store.threads.append("t", fence, [runStarted("t", run.runId)], {
      upsertMessages: [{ id: "old", role: "user", content: "before the upgrade" }],
    });
    await store.close();
    const db = new Database(path);
    db.exec("ALTER TABLE threads DROP COLUMN horizon");
    db.exec("ALTER TABLE messages DROP COLUMN seq");
    db.exec("DROP INDEX threads_by_interrupts_due");
    db.exec("ALTER TABLE threads DROP COLUMN interrupts_due_at");
    db.exec("ALTER TABLE threads DROP COLUMN interrupts");
    db.exec("ALTER TABLE runs DROP COLUMN trace");
    db.pragma("user_version = 3");
    db.close();
    const upgraded = createSqliteStore({ path });
    expect(await upgraded.threads.head("t")).toMatchObject({ lastSeq: 1, horizon: 0 });
    expect((await upgraded.threads.get("t"))!.messages.map((m) => m.id)).toEqual(["old"]);
    await upgraded.close();
  });

  it("a file from before run principals upgrades; its runs have none, new runs record theirs", async () => {
    const store = createSqliteStore({ path });
    await store.runs.enqueue(newRun("t", "old"), "enqueue");
    await store.close();
    const db = new Database(path);
    db.exec("ALTER TABLE runs DROP COLUMN started_by; ALTER TABLE runs DROP COLUMN cancelled_by");
    db.exec("ALTER TABLE threads DROP COLUMN horizon");
    db.exec("ALTER TABLE messages DROP COLUMN seq");
    db.exec("DROP INDEX threads_by_interrupts_due");
    db.exec("ALTER TABLE threads DROP COLUMN interrupts_due_at");
    db.exec("ALTER TABLE threads DROP COLUMN interrupts");
    db.exec("ALTER TABLE runs DROP COLUMN trace");
    db.pragma("user_version = 2");
    db.close();
    const upgraded = createSqliteStore({ path });
    const old = await upgraded.runs.get("t", "old");
    expect(old?.startedBy).toBeUndefined();
    const by = { kind: "user", id: "alice" } as const;
    await upgraded.runs.enqueue({ ...newRun("t", "new"), startedBy: by }, "enqueue");
    expect((await upgraded.runs.requestCancel("t", "old", by))?.cancelledBy).toEqual(by);
    expect((await upgraded.runs.get("t", "new"))?.startedBy).toEqual(by);
    await upgraded.close();
  });

  it("a file from before interrupts upgrades: its threads have none pending, new ones keep theirs", async () => {
    const store = createSqliteStore({ path });
    const { fence, run } = await activeRun(store, "t");
    await store.threads.append("t", fence, [runStarted("t", run.runId)]);
    await store.close();
    const db = new Database(path);
    db.exec("DROP INDEX threads_by_interrupts_due");
    db.exec("ALTER TABLE threads DROP COLUMN interrupts_due_at");
    db.exec("ALTER TABLE threads DROP COLUMN interrupts");
    db.exec("ALTER TABLE runs DROP COLUMN trace");
    db.pragma("user_version = 4");
    db.close();
    const upgraded = createSqliteStore({ path });
    expect((await upgraded.threads.get("t"))!.interrupts).toEqual([]);
    const pending = [{ id: "i1", reason: "approval" }];
    await upgraded.threads.append("t", fence, [], { interrupts: { value: pending } });
    expect((await upgraded.threads.get("t"))!.interrupts).toEqual(pending);
    await upgraded.close();
  });

  it("a file from before run traces upgrades: its runs have none, new runs keep theirs", async () => {
    const store = createSqliteStore({ path });
    await store.runs.enqueue(newRun("t", "old"), "enqueue");
    await store.close();
    const db = new Database(path);
    db.exec("ALTER TABLE runs DROP COLUMN trace");
    db.pragma(`user_version = ${SCHEMA_VERSION - 1}`);
    db.close();
    const upgraded = createSqliteStore({ path });
    expect((await upgraded.runs.get("t", "old"))?.trace).toBeUndefined();
    const trace = { traceparent: `00-${"1".repeat(32)}-${"2".repeat(16)}-01` };
    await upgraded.runs.enqueue({ ...newRun("t", "new"), trace }, "enqueue");
    expect((await upgraded.runs.get("t", "new"))?.trace).toEqual(trace);
    await upgraded.close();
  });

  it("refuses a file written by a newer schema version", async () => {
    await createSqliteStore({ path }).close();
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => createSqliteStore({ path })).toThrow(/newer/);
  });
});
