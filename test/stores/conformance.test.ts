import { type BackendData, forEachBackend } from "../backends.js";
import { runStoreConformance } from "../conformance/store-suite.js";

await forEachBackend("store", (backend) => {
  let data: BackendData | undefined;
  const current = () => {
    if (!data) throw new Error("no data open");
    return data;
  };
  runStoreConformance(backend.name, {
    async open() {
      data = await backend.fresh("conf");
      return data.open();
    },
    reopen: () => current().open(),
    peer: () => current().open(),
    async cleanup() {
      await data?.cleanup();
      data = undefined;
    },
  });
});
