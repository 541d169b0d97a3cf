/**
 * Just enough source-map reading to put original line numbers on CPU-profile frames: tsx
 * compiles each .ts file to one line of JavaScript with an inline source map, so the profiler's
 * positions are all "line 1" until mapped back.
 */
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DIGIT = new Map([...B64].map((c, i) => [c, i]));

/** Decodes one mappings segment: base64 VLQ numbers. */
function vlq(segment: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const d = DIGIT.get(ch);
    if (d === undefined) break;
    value += (d & 31) << shift;
    if (d & 32) {
      shift += 5;
      continue;
    }
    out.push(value & 1 ? -(value >>> 1) : value >>> 1);
    value = 0;
    shift = 0;
  }
  return out;
}

export interface LineMap {
  /** Original 1-based line for a 0-based generated line and column, if mapped. */
  lookup(line: number, column: number): number | undefined;
}

/** Parses a `data:application/json;base64,...` source map URL (others are not supported). */
export function parseInlineMap(url: string): LineMap | undefined {
  const comma = url.indexOf(",");
  if (!url.startsWith("data:") || comma < 0) return undefined;
  const body = url.slice(comma + 1);
  const json = url.slice(0, comma).endsWith(";base64")
    ? Buffer.from(body, "base64").toString("utf8")
    : decodeURIComponent(body);
  const map = JSON.parse(json) as { mappings: string };
  // Per generated line: [generated column, original line] pairs in column order.
  const lines: Array<Array<[number, number]>> = [];
  let srcLine = 0;
  for (const lineText of map.mappings.split(";")) {
    const segs: Array<[number, number]> = [];
    let genCol = 0;
    for (const seg of lineText.split(",")) {
      if (!seg) continue;
      const v = vlq(seg);
      genCol += v[0] ?? 0;
      if (v.length >= 4) {
        srcLine += v[2] ?? 0;
        segs.push([genCol, srcLine]);
      }
    }
    lines.push(segs);
  }
  return {
    lookup(line, column) {
      const segs = lines[line];
      if (!segs || segs.length === 0) return undefined;
      let lo = 0;
      let hi = segs.length - 1;
      if (segs[0]![0] > column) return undefined;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (segs[mid]![0] <= column) lo = mid;
        else hi = mid - 1;
      }
      return segs[lo]![1] + 1;
    },
  };
}
