import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { type LineMap, parseInlineMap } from "./source-map.js";

interface ProfileNode {
  id: number;
  callFrame: {
    functionName: string;
    url: string;
    lineNumber: number;
    columnNumber: number;
    scriptId: string;
  };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Frame {
  name: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  file: string;
  /** Busy (non-idle) time sampled; the percentages are of this. */
  totalMs: number;
  /** Time the event loop sat idle during the profile. */
  idleMs: number;
  /** Functions by self time. */
  self: Frame[];
  /** Threadline (src/) functions by inclusive time: the time in them and what they called. */
  inclusive: Frame[];
  /** Self time grouped by where the code lives (a src/ file, a package, node internals, GC). */
  modules: Frame[];
}

let session: Session | undefined;

/** Starts the V8 sampling profiler in this process (the same data `node --cpu-prof` writes). */
export async function startProfile(intervalUs = 500): Promise<void> {
  session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: intervalUs });
  await session.post("Profiler.start");
}

/** Stops the profiler, writes the .cpuprofile (open it in Chrome DevTools) and summarises it. */
export async function stopProfile(file: string, top = 15): Promise<ProfileSummary> {
  if (!session) throw new Error("profiler not started");
  const { profile } = (await session.post("Profiler.stop")) as unknown as { profile: CpuProfile };
  const maps = await sourceMaps(session);
  session.disconnect();
  session = undefined;
  await writeFile(file, JSON.stringify(profile));
  return summarize(profile, file, top, maps);
}

/**
 * The inline source maps of this process's own .ts modules, by script id. Enabling the debugger
 * (only after profiling) makes V8 announce every loaded script with its source map URL.
 */
async function sourceMaps(s: Session): Promise<Map<string, LineMap>> {
  const maps = new Map<string, LineMap>();
  const onScript = (m: { params: { scriptId: string; url: string; sourceMapURL?: string } }) => {
    const { scriptId, url, sourceMapURL } = m.params;
    if (!sourceMapURL || url.includes("node_modules") || !url.endsWith(".ts")) return;
    try {
      const map = parseInlineMap(sourceMapURL);
      if (map) maps.set(scriptId, map);
    } catch {
      // An unreadable map only costs line numbers.
    }
  };
  s.on("Debugger.scriptParsed", onScript);
  try {
    await s.post("Debugger.enable");
    await s.post("Debugger.disable");
  } finally {
    s.off("Debugger.scriptParsed", onScript);
  }
  return maps;
}

function where(url: string): string {
  if (!url) return "";
  const path = url.replace(/^file:\/\//, "");
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = path.slice(nm + "node_modules/".length).split("/");
    const pkg = rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
    return `${pkg}/${rest[rest.length - 1]}`;
  }
  for (const root of ["/src/", "/bench/"]) {
    const i = path.lastIndexOf(root);
    if (i >= 0) return path.slice(i + 1);
  }
  return path;
}

function moduleOf(url: string, fn: string): string {
  if (!url) return fn.startsWith("(") ? fn : "(native)";
  const path = url.replace(/^file:\/\//, "");
  if (path.startsWith("node:")) return "node internals";
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = path.slice(nm + "node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? path);
  }
  return where(url);
}

export function summarize(
  profile: CpuProfile,
  file: string,
  top = 15,
  maps: Map<string, LineMap> = new Map(),
): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const key = (n: ProfileNode) => {
    const f = n.callFrame;
    const loc = where(f.url);
    const line = maps.get(f.scriptId)?.lookup(f.lineNumber, f.columnNumber) ?? f.lineNumber + 1;
    return `${f.functionName || "(anonymous)"}${loc ? ` ${loc}:${line}` : ""}`;
  };
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const mods = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    // The first delta runs from the profiler's start request, not from a previous sample.
    if (i === 0) return;
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id);
    if (!node) return;
    // An idle event loop is waiting, not working: report it apart from the percentages.
    if (node.callFrame.functionName === "(idle)") {
      idle += dt;
      return;
    }
    total += dt;
    const k = key(node);
    self.set(k, (self.get(k) ?? 0) + dt);
    const m = moduleOf(node.callFrame.url, node.callFrame.functionName);
    mods.set(m, (mods.get(m) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n) break;
      const kk = key(n);
      if (seen.has(kk)) continue;
      seen.add(kk);
      incl.set(kk, (incl.get(kk) ?? 0) + dt);
    }
  });
  const rank = (m: Map<string, number>, skip: (k: string) => boolean = () => false) =>
    [...m.entries()]
      .filter(([k]) => !skip(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms: round(ms), pct: round((100 * ms) / (total || 1)) }));
  return {
    file,
    totalMs: round(total),
    idleMs: round(idle),
    self: rank(self),
    inclusive: rank(incl, (k) => !k.includes(" src/")),
    modules: rank(mods),
  };
}

const round = (x: number) => Math.round(x * 10) / 10;
