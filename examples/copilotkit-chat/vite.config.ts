import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * The example imports `threadline/client` as an app would; here it resolves to this repo's
 * sources, so the example needs no build of the package first. Everything is bundled from
 * node_modules: building works offline.
 */
export default defineConfig({
  root: here("."),
  base: "./",
  plugins: [react()],
  resolve: {
    alias: { "threadline/client": here("../../src/client/index.ts") },
  },
  server: { port: 5173, strictPort: false },
  build: { outDir: here("./dist"), emptyOutDir: true, chunkSizeWarningLimit: 10_000 },
});
