import { ThreadlineError } from "../core/errors.js";

/** A `fetch`-compatible function (the global one, a test double, a proxy...). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Static headers, or a function read before every request (fresh tokens on reconnect). */
export type HeadersSource =
  | Record<string, string>
  | (() => Record<string, string> | Promise<Record<string, string>>);

/**
 * The global fetch, called unbound-safe: browsers throw "Illegal invocation" when `fetch` is
 * called as a method of another object, so it is never stored as one.
 */
export const defaultFetch: FetchLike = (input, init) => globalThis.fetch(input, init);

export async function resolveHeaders(source?: HeadersSource): Promise<Record<string, string>> {
  if (!source) return {};
  return typeof source === "function" ? await source() : source;
}

/** `base` + `path` with exactly one slash between them; `base` may carry a path prefix. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}

export const enc = encodeURIComponent;

/** Sends a JSON request and returns the parsed body; error responses become ThreadlineError. */
export async function requestJson<T>(
  fetchFn: FetchLike,
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal },
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", ...init.headers };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetchFn(url, {
    method: init.method ?? "GET",
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  if (!response.ok) throw await ThreadlineError.fromResponse(response);
  return (await response.json()) as T;
}
