import type { ThreadStore } from "../../src/core/store.js";
import {
  createMemoryData,
  createMemoryStore,
  type MemoryStoreData,
} from "../../src/stores/memory/index.js";
import { runStoreConformance } from "../conformance/store-suite.js";

let data: MemoryStoreData = createMemoryData();

runStoreConformance("memory", {
  async open(): Promise<ThreadStore> {
    data = createMemoryData();
    return createMemoryStore({ data });
  },
  async reopen() {
    return createMemoryStore({ data });
  },
  async peer() {
    return createMemoryStore({ data });
  },
});
