import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { HEADER_RESET, REQUEST_HEADERS, RESPONSE_HEADERS } from "../../src/protocol.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline } from "../../src/threadline.js";

const ORIGIN = "https://app.example.com";

function app() {
  // A frontend served elsewhere: the server must be told its origin (the default allows none).
  return createThreadline({
    store: createMemoryStore(),
    agents: { demo: new DemoAgent() },
    cors: [ORIGIN],
  });
}

const listed = (value: string | null) =>
  (value ?? "").split(",").map((h) => h.trim().toLowerCase());

describe("CORS", () => {
  it("PROTOCOL.md documents no header the CORS lists leave out", () => {
    const doc = readFileSync(new URL("../../PROTOCOL.md", import.meta.url), "utf8");
    const documented = new Set(
      [...doc.matchAll(/\b(X-Threadline-[A-Za-z-]+|Last-Event-ID)\b/g)].map((m) => m[1]!),
    );
    expect(documented.size).toBeGreaterThan(5);
    const known = new Set<string>([...REQUEST_HEADERS, ...RESPONSE_HEADERS]);
    expect([...documented].filter((h) => !known.has(h))).toEqual([]);
  });

  it.each([...REQUEST_HEADERS])("a browser preflight for %s succeeds", async (header) => {
    const tl = app();
    try {
      const res = await tl.app.request("/agent/demo/connect", {
        method: "OPTIONS",
        headers: {
          Origin: ORIGIN,
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": header.toLowerCase(),
        },
      });
      expect(res.status).toBeLessThan(300);
      expect(res.headers.get("access-control-allow-origin")).toBeTruthy();
      expect(listed(res.headers.get("access-control-allow-headers"))).toContain(
        header.toLowerCase(),
      );
    } finally {
      await tl.close({ graceMs: 10 });
    }
  });

  it("a cross-origin follow may read every documented response header", async () => {
    const tl = app();
    try {
      await tl.store.threads.ensure("cors");
      const controller = new AbortController();
      const res = await tl.app.request("/threads/cors/events?follow=false", {
        headers: { Origin: ORIGIN },
        signal: controller.signal,
      });
      expect(res.status).toBe(200);
      const exposed = listed(res.headers.get("access-control-expose-headers"));
      for (const header of RESPONSE_HEADERS) {
        expect(exposed).toContain(header.toLowerCase());
        // The reset header comes only with a reset (PROTOCOL.md §2.8; the conformance suite).
        if (header !== HEADER_RESET) expect(res.headers.get(header)).not.toBeNull();
      }
      await res.body?.cancel();
    } finally {
      await tl.close({ graceMs: 10 });
    }
  });
});
