import { defineConfig } from "vitest/config";

/**
 * The packaging test (`npm run test:package`): packs the tarball and installs it into a scratch
 * consumer project. Separate from `npm test` because it reaches the npm registry.
 */
export default defineConfig({
  test: {
    include: ["test/package/**/*.pkgtest.ts"],
    testTimeout: 300_000,
    hookTimeout: 900_000,
  },
});
