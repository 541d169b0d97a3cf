import { createMemoryData, createMemoryStore } from "../../src/stores/memory/index.js";
import { runTriggerConformance } from "../conformance/trigger-suite.js";

runTriggerConformance("memory", () => {
  const data = createMemoryData();
  return { open: () => createMemoryStore({ data }) };
});
