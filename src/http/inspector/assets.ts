import { readFile, stat } from "node:fs/promises";
import { ThreadlineError } from "../../core/errors.js";
import {
  type AssetFiles,
  BUILT_DIR,
  bundleInspector,
  type InspectorBundle,
  versionOf,
} from "./bundle.js";

/** What the inspector routes serve. */
export interface InspectorAssets {
  version: string;
  /** `index.html` with its asset URLs versioned. */
  index: string;
  files: AssetFiles;
}

/** Running through tsx/vitest (`.ts` modules) rather than compiled `dist/`. */
const FROM_SOURCE = import.meta.url.endsWith(".ts");
const VERSION_PLACEHOLDER = /__VERSION__/g;

function toAssets(files: AssetFiles): InspectorAssets {
  const version = versionOf(files);
  const template = new TextDecoder().decode(files["index.html"] ?? new Uint8Array());
  return { version, index: template.replace(VERSION_PLACEHOLDER, version), files };
}

async function readBuilt(): Promise<InspectorAssets> {
  const names = ["index.html", "app.js", "app.css"];
  const contents = await Promise.all(names.map((n) => readFile(`${BUILT_DIR}${n}`)));
  return toAssets(Object.fromEntries(names.map((n, i) => [n, contents[i]!])));
}

async function newestMtime(paths: string[]): Promise<number> {
  const times = await Promise.all(
    paths.map((p) =>
      stat(p).then(
        (s) => s.mtimeMs,
        () => Number.POSITIVE_INFINITY,
      ),
    ),
  );
  return Math.max(0, ...times);
}

/**
 * Source mode: an in-memory bundle, rebuilt when one of its inputs changed since it was made
 * (checked when the page itself is requested, so assets requests stay a map lookup).
 */
class SourceBundle {
  private current: { assets: InspectorAssets; inputs: string[]; builtAt: number } | undefined;
  private building: Promise<InspectorAssets> | undefined;

  async get(checkFresh: boolean): Promise<InspectorAssets> {
    const current = this.current;
    if (current && (!checkFresh || (await newestMtime(current.inputs)) <= current.builtAt)) {
      return current.assets;
    }
    this.building ??= this.build().finally(() => {
      this.building = undefined;
    });
    return this.building;
  }

  private async build(): Promise<InspectorAssets> {
    const builtAt = Date.now();
    const bundle: InspectorBundle = await bundleInspector();
    const assets = toAssets(bundle.files);
    this.current = { assets, inputs: bundle.inputs, builtAt };
    return assets;
  }
}

const notBuilt = (cause: unknown) =>
  new ThreadlineError(
    "UNAVAILABLE",
    "the inspector page is not built: run `npm run build` (or start from source with `npm start`)",
    { cause },
  );
const bundleFailed = (cause: unknown) =>
  new ThreadlineError(
    "UNAVAILABLE",
    `could not bundle the inspector page from src/inspector: ${cause instanceof Error ? cause.message : String(cause)}`,
    { cause },
  );

let source: SourceBundle | undefined;
let built: Promise<InspectorAssets> | undefined;

/**
 * The inspector's assets. From source they are bundled on demand (and stay current while you
 * edit); a built server serves `dist/inspector-assets/`, and bundles from source only if that
 * directory is missing and esbuild is at hand.
 */
export async function inspectorAssets(
  opts: { checkFresh?: boolean } = {},
): Promise<InspectorAssets> {
  if (FROM_SOURCE) {
    source ??= new SourceBundle();
    return source.get(opts.checkFresh ?? false).catch((error) => {
      throw bundleFailed(error);
    });
  }
  built ??= readBuilt().catch(async (missing) => {
    try {
      source ??= new SourceBundle();
      return await source.get(false);
    } catch {
      built = undefined;
      throw notBuilt(missing);
    }
  });
  return built;
}
