import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ALLOWED_PACKAGES = ["@ag-ui/client", "@ag-ui/core", "rxjs"];

/** Every module `src/client/index.ts` reaches, following relative imports (types included). */
function reachable(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const source = readFileSync(file, "utf8");
    const specs = [...source.matchAll(/(?:import|export)[^'"]*?from\s*["']([^"']+)["']/g)].map(
      (m) => m[1]!,
    );
    seen.set(file, specs);
    for (const spec of specs) {
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
    }
  };
  visit(entry);
  return seen;
}

describe("threadline/client is browser-safe", () => {
  it("imports no Node built-ins and only browser-ready packages", () => {
    const graph = reachable(resolve("src/client/index.ts"));
    const bad: string[] = [];
    for (const [file, specs] of graph) {
      const source = readFileSync(file, "utf8");
      if (/\b(process|Buffer|require)\s*[.(]/.test(source)) bad.push(`${file}: Node global`);
      for (const spec of specs) {
        if (spec.startsWith(".")) continue;
        if (!ALLOWED_PACKAGES.includes(spec)) bad.push(`${file}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
    expect([...graph.keys()].some((f) => f.endsWith("src/core/errors.ts"))).toBe(true);
  });
});
