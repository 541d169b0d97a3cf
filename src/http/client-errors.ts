import { maxHeaderSize } from "node:http";
import type { Duplex } from "node:stream";
import { ThreadlineError } from "../core/errors.js";

/** How long, at most, the rest of a rejected request is read (and dropped) after the answer. */
const LINGER_MS = 2_000;
/** Past this many bytes of a rejected request, the connection is cut rather than drained. */
const LINGER_BYTES = 1 << 20;

const REASONS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
};

type ClientError = Error & { code?: string; rawPacket?: Buffer };

/**
 * What Node's parser refused, as one of our JSON errors. Node counts the request line (the URL)
 * and the headers against one limit and cannot tell which overflowed it; URLs under that limit
 * but over the API's get 414 from the app (`url-limit.ts`).
 */
export function classifyClientError(error: ClientError): ThreadlineError {
  if (error.code === "HPE_HEADER_OVERFLOW") {
    return new ThreadlineError(
      "HEADERS_TOO_LARGE",
      `the URL and headers exceed the server's limit of ${maxHeaderSize} bytes`,
    );
  }
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
    return new ThreadlineError("BAD_REQUEST", "the request took too long to arrive", {
      status: 408,
    });
  }
  return new ThreadlineError(
    "BAD_REQUEST",
    `malformed HTTP request (${error.code ?? "parse error"})`,
  );
}

/**
 * Node's `clientError` handler: requests its parser refuses (a URL or headers over the limit,
 * bad framing) get our JSON error instead of a bare status line. The rest of the request is
 * read and dropped for a moment before the socket closes: a client still sending its long URL
 * would otherwise get a connection reset instead of the answer.
 */
export function answerClientError(error: ClientError, socket: Duplex): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const err = classifyClientError(error);
  const body = JSON.stringify(err.toJSON());
  socket.end(
    `HTTP/1.1 ${err.status} ${REASONS[err.status] ?? "Error"}\r\n` +
      "content-type: application/json\r\n" +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      `connection: close\r\n\r\n${body}`,
  );
  let seen = 0;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.on("data", (chunk: Buffer) => {
    seen += chunk.byteLength;
    if (seen > LINGER_BYTES) socket.destroy();
  });
  socket.once("close", () => clearTimeout(timer));
  socket.resume();
}
