import { describe, expect, it } from "vitest";
import { Authenticator } from "../../src/http/access/authenticate.js";
import { AccessGate } from "../../src/http/access/gate.js";
import {
  ANY_READ,
  assertDeclared,
  PUBLIC,
  RouteTable,
  routeTable,
} from "../../src/http/access/route-table.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline } from "../../src/threadline.js";

const gate = () =>
  new AccessGate(new Authenticator({ token: "t" }), createMemoryStore(), undefined);

describe("every route declares its access", () => {
  it("refuses an app with a route added around the table, naming it", () => {
    const root = new RouteTable(gate());
    root.get("/healthz", PUBLIC, (c) => c.json({ ok: true }));
    const nested = new RouteTable(gate());
    nested.get("/things/:id", ANY_READ, (c) => c.json({}));
    // Forgotten: added to the Hono app directly, so no gate would run before it.
    nested.app.post("/things/:id", (c) => c.json({}));
    root.mount("/api", nested);
    root.app.use("*", async (_c, next) => next());
    expect(() => assertDeclared(root.app, root)).toThrow(/POST \/api\/things\/:id/);
  });

  it("accepts the tables of declared routes and middleware", () => {
    const root = new RouteTable(gate());
    root.app.use("*", async (_c, next) => next());
    root.get("/", PUBLIC, (c) => c.text("home"));
    const nested = new RouteTable(gate());
    nested.post("/x", ANY_READ, (c) => c.json({}));
    root.mount("/", nested);
    root.mount("/base", nested);
    expect(() => assertDeclared(root.app, root)).not.toThrow();
  });

  it("the server's own app passes the check (it runs when the app is made)", async () => {
    const tl = createThreadline({ store: createMemoryStore(), agents: {}, metrics: {} });
    try {
      expect(routeTable(tl.app).length).toBeGreaterThan(20);
    } finally {
      await tl.close();
    }
  });
});
