import type { MiddlewareHandler } from "hono";
import { ThreadlineError } from "../core/errors.js";

/** Longest path + query the API accepts; no route needs more than a few hundred characters. */
export const MAX_URL_LENGTH = 8 << 10;

/**
 * 414 URI_TOO_LONG for a path and query over `max` characters. Node refuses requests whose
 * request line and headers exceed 16 KiB before the app sees them (see `client-errors.ts`);
 * this limit holds below that, and for the app mounted in any other server.
 */
export function limitUrl(max: number = MAX_URL_LENGTH): MiddlewareHandler {
  return async (c, next) => {
    const url = c.req.url;
    // The origin part comes from the Host header, which is not the caller's URL.
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    if (pathStart >= 0 && url.length - pathStart > max) {
      throw new ThreadlineError(
        "URI_TOO_LONG",
        `the request URL is ${url.length - pathStart} characters long (limit ${max})`,
      );
    }
    return next();
  };
}
