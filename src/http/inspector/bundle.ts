import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The inspector page is TypeScript under `src/inspector/` (it imports `threadline/client`), so a
 * browser needs it bundled. Why a bundle rather than committed JS: the page reuses the real client
 * (`followThread`, `ThreadlineClient`) instead of a hand-kept copy that would drift from it.
 * The bundle is made with esbuild's JS API: esbuild is what `tsx` (and so `npm start`) runs on,
 * so it is present wherever the source runs, and it bundles the page in well under a second.
 *
 * - `npm run build` (and so `npm ci`, through `prepare`) writes it to `dist/inspector-assets/`,
 *   which a built server (`dist/`, the npm package, `npx threadline`) serves as is.
 * - A server running from source (`npm start`, tests) bundles in memory on first use and again
 *   when a source file changed, so it always serves the current page (see `assets.ts`).
 */

/** The repository (or package) root: this file sits three levels down in `src/` and `dist/`. */
export const ROOT_URL = new URL("../../../", import.meta.url);
export const SOURCE_DIR = fileURLToPath(new URL("src/inspector/", ROOT_URL));
export const BUILT_DIR = fileURLToPath(new URL("dist/inspector-assets/", ROOT_URL));

/** The files the inspector serves, by name: `index.html` (a template), `app.js`, `app.css`. */
export type AssetFiles = Record<string, Uint8Array>;

export interface InspectorBundle {
  files: AssetFiles;
  /** Absolute paths of every source file the bundle was made from (to detect staleness). */
  inputs: string[];
}

/** Bundles `src/inspector` (minified ES2022 modules) in memory. Needs esbuild. */
export async function bundleInspector(): Promise<InspectorBundle> {
  // A computed specifier: bundlers of an app that embeds Threadline leave esbuild (a tool of
  // this source build, not of a built server) alone.
  const name = "esbuild";
  const esbuild = (await import(name)) as typeof import("esbuild");
  const result = await esbuild.build({
    entryPoints: [
      { in: `${SOURCE_DIR}main.ts`, out: "app" },
      { in: `${SOURCE_DIR}styles.css`, out: "app" },
    ],
    absWorkingDir: fileURLToPath(ROOT_URL),
    bundle: true,
    minify: true,
    format: "esm",
    target: ["es2022", "chrome100", "firefox100", "safari15"],
    platform: "browser",
    outdir: "/inspector",
    write: false,
    metafile: true,
    legalComments: "none",
    logLevel: "silent",
  });
  const files: AssetFiles = {};
  for (const out of result.outputFiles) {
    files[out.path.slice(out.path.lastIndexOf("/") + 1)] = out.contents;
  }
  const index = `${SOURCE_DIR}index.html`;
  files["index.html"] = await readFile(index);
  const root = fileURLToPath(ROOT_URL);
  const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(root, p));
  return { files, inputs: [...inputs, index] };
}

/** Writes the bundle to `dist/inspector-assets/` (the `npm run build` step). */
export async function writeInspectorAssets(dir = BUILT_DIR): Promise<string[]> {
  const { files } = await bundleInspector();
  await mkdir(dir, { recursive: true });
  const names = Object.keys(files).sort();
  await Promise.all(names.map((name) => writeFile(`${dir}${name}`, files[name]!)));
  return names;
}

/** Cache-busting version of a bundle: a hash of its contents. */
export function versionOf(files: AssetFiles): string {
  const hash = createHash("sha256");
  for (const name of Object.keys(files).sort()) hash.update(name).update(files[name]!);
  return hash.digest("hex").slice(0, 12);
}
