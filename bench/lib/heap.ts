import { readFile, rm } from "node:fs/promises";

/** Bytes and counts per kind of heap object ("object:Promise", "closure:onDrain", "array", ...). */
export type HeapCensus = Map<string, { count: number; bytes: number }>;

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Reads a V8 .heapsnapshot and sums self sizes by object kind (then deletes the file). */
export async function heapCensus(file: string): Promise<HeapCensus> {
  const s = JSON.parse(await readFile(file, "utf8")) as Snapshot;
  await rm(file, { force: true });
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const ti = fields.indexOf("type");
  const ni = fields.indexOf("name");
  const si = fields.indexOf("self_size");
  const out: HeapCensus = new Map();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + ti]!] ?? "?";
    const name = s.strings[s.nodes[i + ni]!] ?? "";
    const key = type === "object" || type === "closure" ? `${type}:${name || "(anonymous)"}` : type;
    const e = out.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += s.nodes[i + si]!;
    out.set(key, e);
  }
  return out;
}

/** What `after` holds beyond `before`, per unit (e.g. per connection), largest first. */
export function perUnit(
  before: HeapCensus,
  after: HeapCensus,
  units: number,
): { total: number; rows: Array<{ kind: string; count: number; bytes: number }> } {
  let total = 0;
  const rows = [...after.entries()].map(([kind, a]) => {
    const b = before.get(kind) ?? { count: 0, bytes: 0 };
    total += a.bytes - b.bytes;
    return { kind, count: (a.count - b.count) / units, bytes: (a.bytes - b.bytes) / units };
  });
  rows.sort((x, y) => y.bytes - x.bytes);
  return { total: total / units, rows };
}
