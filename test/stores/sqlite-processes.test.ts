import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FollowItem } from "../../src/core/follow-item.js";
import type { ThreadStore } from "../../src/core/store.js";
import { createSqliteStore } from "../../src/stores/sqlite/index.js";
import {
  activeRun,
  custom,
  listen,
  range,
  readAll,
  seqs,
  waitFor,
  yieldToLoop,
} from "../conformance/store/fixtures.js";
import type { WriterTask } from "./fixtures/sqlite-writer.js";

const WRITER = new URL("./fixtures/sqlite-writer.ts", import.meta.url).pathname;

/** Starts the writer process; `seen` holds the seqs it reported as committed. */
function startWriter(task: WriterTask): {
  child: ChildProcess;
  seen: number[];
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, ["--import", "tsx", WRITER, JSON.stringify(task)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const seen: number[] = [];
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split("\n");
    buffer = lines.pop()!;
    for (const line of lines) if (line) seen.push(Number(line));
  });
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, seen, exit };
}

describe("sqlite: two processes on one file", () => {
  let dir: string;
  let path: string;
  let store: ThreadStore;
  let children: ChildProcess[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "threadline-procs-"));
    path = join(dir, "threadline.db");
    store = createSqliteStore({ path });
  });

  afterEach(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    children = [];
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("appends from both processes stay gapless and reach this process's subscriber once, in order", async () => {
    const t = "shared";
    const { fence } = await activeRun(store, t);
    const live: FollowItem[] = [];
    const off = await listen(store, t, (batch) => live.push(...batch));
    const writer = startWriter({ path, threadId: t, fence, batches: 150, tag: "child" });
    children.push(writer.child);
    // Write here too while the child writes, so both processes contend for the write lock.
    let mine = 0;
    let exited = false;
    void writer.exit.then(() => {
      exited = true;
    });
    await waitFor(() => writer.seen.length > 0 || exited, "the child's first commit");
    while (!exited || mine < 20) {
      await store.threads.append(t, fence, [custom(`parent/${mine}`)]);
      mine += 1;
      await yieldToLoop();
    }
    expect(await writer.exit).toBe(0);
    const log = await readAll(store, t);
    expect(seqs(log)).toEqual(range(1, log.length));
    const values = log.map((r) => String((r.event as { value?: unknown }).value));
    const childValues = values.filter((v) => v.startsWith("child/"));
    expect(childValues).toHaveLength(range(0, 149).reduce((n, i) => n + 1 + (i % 3), 0));
    expect(values.filter((v) => v.startsWith("parent/"))).toEqual(
      range(0, mine - 1).map((i) => `parent/${i}`),
    );
    await waitFor(() => live.length >= log.length, "the subscriber to catch up");
    off();
    expect(seqs(live)).toEqual(range(1, log.length));
  });

  it("every append a follower could have seen survives kill -9 of the writing process", async () => {
    const t = "crash";
    const { fence } = await activeRun(store, t);
    const writer = startWriter({ path, threadId: t, fence, batches: 0, tag: "child" });
    children.push(writer.child);
    await waitFor(() => writer.seen.length >= 40, "the writer to commit 40 batches");
    writer.child.kill("SIGKILL");
    await writer.exit;
    const reported = writer.seen[writer.seen.length - 1]!;
    await store.close();
    store = createSqliteStore({ path });
    const log = await readAll(store, t);
    expect(log.length).toBeGreaterThanOrEqual(reported);
    expect(seqs(log)).toEqual(range(1, log.length));
    // The log goes on at the next seq after the crash.
    const next = await store.threads.append(t, fence, [custom("after")]);
    expect(next[0]!.seq).toBe(log.length + 1);
  });
});
