import { type ServerType, serve } from "@hono/node-server";
import type { Hono } from "hono";
import { answerClientError } from "./client-errors.js";
import type { HttpDeps } from "./deps.js";
import { withDirectSse } from "./node-sse.js";
import { isLoopbackHost, originPolicy, refuseForeignHost } from "./origin-policy.js";

type Fetch = (request: Request, env: unknown) => Response | Promise<Response>;

export interface ListenOptions {
  port?: number;
  host?: string;
}

/**
 * Serves the app `createApp(deps)` made with Node's http server; its SSE bodies are written
 * straight to the socket (`deps.sse`). Resolves once the port is bound.
 */
export async function listen(
  deps: Pick<HttpDeps, "ready" | "config" | "sse">,
  app: Hono,
  opts: ListenOptions = {},
): Promise<{ url: string; server: ServerType; close(): Promise<void> }> {
  await deps.ready;
  const host = opts.host ?? "127.0.0.1";
  let fetch: Fetch = app.fetch;
  // Bound to loopback, the server is reachable from this machine only — unless a web page's DNS
  // name is rebound to 127.0.0.1: requests must name a loopback host (or an allowed one). A
  // server open to any origin gains nothing from the check.
  if (isLoopbackHost(host) && !originPolicy(deps.config.cors).anyOrigin) {
    const allowed = new Set(deps.config.allowedHosts.map((h) => h.toLowerCase()));
    const inner = fetch;
    fetch = (request, env) =>
      refuseForeignHost(request.headers.get("host") ?? undefined, allowed) ?? inner(request, env);
  }
  return new Promise((resolve, reject) => {
    const server = serve(
      { fetch: withDirectSse(fetch, deps.sse), port: opts.port ?? 0, hostname: host },
      (info) => {
        const shownHost = info.address.includes(":") ? `[${info.address}]` : info.address;
        resolve({
          url: `http://${shownHost}:${info.port}`,
          server,
          close: () =>
            new Promise<void>((done) => {
              // SSE connections never end on their own: close them rather than wait forever.
              (server as { closeAllConnections?: () => void }).closeAllConnections?.();
              server.close(() => done());
            }),
        });
      },
    );
    // Requests Node's parser refuses (URL or headers over 16 KiB, bad framing) get JSON too.
    server.on("clientError", answerClientError);
    server.once("error", reject);
  });
}
