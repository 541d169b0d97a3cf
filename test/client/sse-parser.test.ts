import { describe, expect, it } from "vitest";
import { readSseFrames, type SseFrame, SseParser } from "../../src/client/sse-parser.js";

const utf8 = new TextEncoder();

function parseAll(chunks: string[]): SseFrame[] {
  const p = new SseParser();
  return [...chunks.flatMap((c) => p.push(c)), ...p.end()];
}

function streamOf(bytes: Uint8Array, cuts: number[]): ReadableStream<Uint8Array> {
  const points = [0, ...cuts, bytes.length];
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i + 1 < points.length; i++) {
        controller.enqueue(bytes.slice(points[i], points[i + 1]));
      }
      controller.close();
    },
  });
}

async function collect(body: ReadableStream<Uint8Array>): Promise<SseFrame[]> {
  const out: SseFrame[] = [];
  for await (const f of readSseFrames(body)) out.push(f);
  return out;
}

const text =
  'event: snapshot\nid: 7\ndata: {"type":"RUN_STARTED","x":"héllo 👋"}\n\n' +
  ": keepalive\n\n" +
  'id: 8\ndata: {"a":1,\ndata: "b":2}\n\n' +
  "data:no-space\n\n";

const expected: SseFrame[] = [
  { event: "snapshot", id: "7", data: '{"type":"RUN_STARTED","x":"héllo 👋"}' },
  { comment: true, commentText: "keepalive" },
  { id: "8", data: '{"a":1,\n"b":2}' },
  { data: "no-space" },
];

describe("SseParser", () => {
  it("parses ids, event names, multi-line data and comments", () => {
    expect(parseAll([text])).toEqual(expected);
  });

  it("gives the same frames however the bytes are split (UTF-8 included)", async () => {
    const bytes = utf8.encode(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await collect(streamOf(bytes, [cut]))).toEqual(expected);
    }
    const everyByte = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    expect(await collect(streamOf(bytes, everyByte))).toEqual(expected);
  });

  it("accepts CRLF and CR line endings, also split between chunks", () => {
    const crlf = text.replaceAll("\n", "\r\n");
    const cr = text.replaceAll("\n", "\r");
    expect(parseAll([crlf])).toEqual(expected);
    expect(parseAll([cr])).toEqual(expected);
    for (let cut = 1; cut < crlf.length; cut++) {
      expect(parseAll([crlf.slice(0, cut), crlf.slice(cut)])).toEqual(expected);
    }
  });

  it("drops an unterminated trailing frame and ignores unknown fields", () => {
    expect(parseAll(["retry: 10\nfoo: bar\ndata: x\n\n", "id: 9\ndata: partial"])).toEqual([
      { data: "x" },
    ]);
  });
});
