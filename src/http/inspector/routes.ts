import { ThreadlineError } from "../../core/errors.js";
import type { AccessGate } from "../access/gate.js";
import { PUBLIC, RouteTable } from "../access/route-table.js";
import { inspectorAssets } from "./assets.js";

/** Where the page's assets live; the page refers to them relatively (`_inspector/app.js`). */
export const INSPECTOR_ASSET_PREFIX = "/_inspector";

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

/**
 * The page renders every string with `textContent`; this policy is the second line: only our own
 * script and stylesheet run, and the page talks to this server only.
 */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/**
 * The thread inspector: `GET /` and its assets. Mounted before the token check: the page holds no
 * data, it asks the user for the token and sends it with every API call.
 */
export function inspectorRoutes(gate: AccessGate): RouteTable {
  const routes = new RouteTable(gate);

  routes.get("/", PUBLIC, async () => {
    const assets = await inspectorAssets({ checkFresh: true });
    return new Response(assets.index, {
      headers: {
        ...SECURITY_HEADERS,
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-cache",
      },
    });
  });

  routes.get(`${INSPECTOR_ASSET_PREFIX}/:file`, PUBLIC, async (c) => {
    const file = c.req.param("file");
    const ext = file.slice(file.lastIndexOf(".") + 1);
    const assets = await inspectorAssets();
    // Own properties only: `__proto__`, `constructor`... are names of every object's prototype.
    const type = Object.hasOwn(TYPES, ext) ? TYPES[ext] : undefined;
    const body = Object.hasOwn(assets.files, file) ? assets.files[file] : undefined;
    if (!type || !body) {
      throw new ThreadlineError("NOT_FOUND", `no inspector asset '${file}'`);
    }
    // The page asks for `?v=<content hash>`: that exact version never changes, so it may be
    // cached for good; anything else is revalidated.
    const immutable = c.req.query("v") === assets.version;
    // Node's Buffers and esbuild's output are plain ArrayBuffer-backed; lib.dom's BodyInit says so.
    return new Response(body as Uint8Array<ArrayBuffer>, {
      headers: {
        ...SECURITY_HEADERS,
        "content-type": type,
        "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
      },
    });
  });

  return routes;
}
