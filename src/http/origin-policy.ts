import type { MiddlewareHandler } from "hono";
import { ThreadlineError } from "../core/errors.js";

/**
 * Which web pages may call the API from the browser (the `cors` option / `--cors`):
 * - unset or `false` (the default): none but the server's own origin (the inspector);
 * - a list of origins (`https://app.example.com`), or a comma-separated string of them;
 * - `true` or `"*"`: any page.
 * Without a token, a server that allowed any page would let every site the user visits read its
 * threads and start runs: the default allows none.
 */
export type CorsOption = boolean | string | readonly string[];

export interface OriginPolicy {
  anyOrigin: boolean;
  origins: ReadonlySet<string>;
}

/** Parses the `cors` option; throws BAD_REQUEST for an entry that is not an origin. */
export function originPolicy(option: CorsOption | undefined): OriginPolicy {
  if (option === undefined || option === false) return { anyOrigin: false, origins: new Set() };
  if (option === true) return { anyOrigin: true, origins: new Set() };
  const list = typeof option === "string" ? option.split(",") : option;
  const origins = new Set<string>();
  for (const raw of list) {
    const entry = raw.trim();
    if (entry === "") continue;
    if (entry === "*") return { anyOrigin: true, origins: new Set() };
    origins.add(normalOrigin(entry));
  }
  return { anyOrigin: false, origins };
}

function normalOrigin(entry: string): string {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    throw badOrigin(entry);
  }
  if (
    (url.protocol !== "http:" && url.protocol !== "https:") ||
    url.origin !== entry.replace(/\/$/, "")
  ) {
    throw badOrigin(entry);
  }
  return url.origin;
}

const badOrigin = (entry: string) =>
  new ThreadlineError(
    "BAD_REQUEST",
    `cors: '${entry}' is not an origin (scheme://host[:port], e.g. http://localhost:5173) or '*'`,
  );

/**
 * Refuses (403) a browser request whose `Origin` is neither the server's own nor allowed: with
 * CORS the browser would only hide the answer, and a "simple" request (a form-like POST) would
 * still start a run. Requests without `Origin` (servers, curl, same-origin GETs) pass.
 */
export function checkOrigin(policy: OriginPolicy): MiddlewareHandler {
  return async (c, next) => {
    const origin = c.req.header("origin");
    if (origin === undefined || policy.anyOrigin || policy.origins.has(origin)) return next();
    // In-process requests (`app.request()`) carry no Host header: their URL says the host.
    if (sameOrigin(origin, c.req.header("host") ?? new URL(c.req.url).host)) return next();
    throw new ThreadlineError(
      "FORBIDDEN",
      `requests from the web page at '${origin}' are not allowed: this server allows no other ` +
        `origin than its own unless told so (--cors ${safeOriginHint(origin)}, or the cors option)`,
    );
  };
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

const safeOriginHint = (origin: string) =>
  /^https?:\/\/[\w.:[\]-]+$/.test(origin) ? origin : "<origin>";

/** Hosts that name this machine's loopback interface. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return (
    h === "localhost" || h.endsWith(".localhost") || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h)
  );
}

/** The host name of a `Host` header (`name[:port]`, `[v6]:port`). */
export function hostName(header: string): string {
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d*)?$/.exec(header.trim());
  return (m?.[1] ?? header).toLowerCase();
}

/**
 * DNS rebinding: a page on `evil.example` whose name later resolves to 127.0.0.1 reaches a
 * loopback server as if same-origin — but its requests say `Host: evil.example`. A server bound
 * to loopback therefore answers only requests for a loopback name (or `allowedHosts`), unless
 * any origin is allowed anyway (`cors: "*"`). Returns the refusal, or undefined to go on.
 */
export function refuseForeignHost(
  host: string | undefined,
  allowedHosts: ReadonlySet<string>,
): Response | undefined {
  const name = host === undefined ? "" : hostName(host);
  if (name !== "" && (isLoopbackHost(name) || allowedHosts.has(name))) return undefined;
  return new ThreadlineError(
    "FORBIDDEN",
    `Host '${host ?? ""}' does not name this server, which listens on loopback only ` +
      "(DNS rebinding protection); use a loopback address, or add the name to allowedHosts (--allowed-hosts)",
  ).toResponse();
}
