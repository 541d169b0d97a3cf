import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { writeInspectorAssets } from "../../src/http/inspector/bundle.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";

let tl: Threadline | undefined;
afterEach(async () => {
  await tl?.close({ graceMs: 0 });
  tl = undefined;
});

describe("serving the inspector", () => {
  it("serves the page and its assets without the token; the API still needs it", async () => {
    tl = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      token: "s3cret",
    });
    const page = await tl.app.request("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await page.text();
    const version = /_inspector\/app\.js\?v=([0-9a-f]{12})/.exec(html)?.[1];
    expect(version).toBeDefined();
    expect(html).toContain(`_inspector/app.css?v=${version}`);

    const js = await tl.app.request(`/_inspector/app.js?v=${version}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toContain("text/javascript");
    expect(js.headers.get("cache-control")).toContain("immutable");
    expect((await js.text()).length).toBeGreaterThan(1000);
    const css = await tl.app.request("/_inspector/app.css");
    expect(css.headers.get("content-type")).toContain("text/css");
    expect(css.headers.get("cache-control")).toBe("no-cache");

    const missing = await tl.app.request("/_inspector/secrets.json");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
    expect((await tl.app.request("/threads")).status).toBe(401);
    expect((await tl.app.request("/", { method: "POST", body: "{}" })).status).toBe(401);
  });

  it("`npm run build` writes the bundle that a built server serves", async () => {
    const dir = `${mkdtempSync(join(tmpdir(), "tl-inspector-build-"))}/`;
    try {
      expect(await writeInspectorAssets(dir)).toEqual(["app.css", "app.js", "index.html"]);
      expect(readFileSync(`${dir}index.html`, "utf8")).toContain("app.js?v=__VERSION__");
      expect(readFileSync(`${dir}app.js`, "utf8")).toContain("text/event-stream");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the page's code never parses strings as HTML", () => {
    const dir = join(process.cwd(), "src/inspector");
    const offenders = readdirSync(dir)
      .filter((f) => f.endsWith(".ts"))
      .filter((f) =>
        /innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser|createContextualFragment/.test(
          readFileSync(join(dir, f), "utf8"),
        ),
      );
    expect(offenders).toEqual([]);
  });
});

describe("inspector option", () => {
  it("inspector: false leaves / unserved (library users mounting the app elsewhere)", async () => {
    const off = createThreadline({ store: createMemoryStore(), agents: {}, inspector: false });
    const res = await off.app.request("/");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
    await off.close({ graceMs: 0 });
  });
});
