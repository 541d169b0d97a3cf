import type { ThreadStore } from "../../core/store.js";
import { createMemoryData, type MemoryStoreData } from "./data.js";
import { MemoryRecords } from "./records.js";
import { MemoryRuns } from "./runs.js";
import { MemoryThreads } from "./threads.js";

export { createMemoryData, type MemoryStoreData } from "./data.js";

export interface MemoryStoreOptions {
  data?: MemoryStoreData;
}

/** An in-process store for tests and demos; nothing survives the process. */
export function createMemoryStore(opts: MemoryStoreOptions = {}): ThreadStore {
  const data = opts.data ?? createMemoryData();
  const threads = new MemoryThreads(data);
  return {
    kind: "memory",
    // Nothing survives the process: a cursor of a previous process is from another epoch.
    epoch: data.epoch,
    threads,
    runs: new MemoryRuns(data),
    records: new MemoryRecords(data),
    close: async () => threads.close(),
  };
}
