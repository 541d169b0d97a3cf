/**
 * What the page talks to, from the query string (then Vite env, then defaults):
 * `?server=http://127.0.0.1:8787&thread=demo&agent=demo&mode=stock|threadline&token=…`,
 * `&runtime=<url>` for another CopilotKit `runtimeUrl` (a CopilotRuntime using Threadline),
 * `&threads=1` for a thread list, and, to script the demo agent, `&tokens=200&delayMs=50`
 * and `&interrupt=1` (each run asks for an approval; the chat shows it with `useInterrupt`),
 * sent as `forwardedProps.demo`.
 */
export interface ChatConfig {
  serverUrl: string;
  /** The stock client's `runtimeUrl`: Threadline's CopilotKit surface, `<server>/copilotkit`. */
  runtimeUrl: string;
  threadId: string;
  agentId: string;
  /** `stock`: CopilotKit's own runtime client (default). `threadline`: a following ThreadlineAgent. */
  mode: "threadline" | "stock";
  /** Show a thread list (CopilotKit's `useThreads`): rename, archive, delete. */
  threads: boolean;
  token?: string;
  /** Forwarded with every run (CopilotKit `properties` → `forwardedProps`). */
  properties: Record<string, unknown>;
}

const DEFAULT_SERVER = import.meta.env.VITE_THREADLINE_URL ?? "http://127.0.0.1:8787";

function positiveInt(text: string | null): number | undefined {
  if (text === null || !/^\d{1,9}$/.test(text)) return undefined;
  return Number(text);
}

export function readConfig(search: string = window.location.search): ChatConfig {
  const q = new URLSearchParams(search);
  const tokens = positiveInt(q.get("tokens"));
  const delayMs = positiveInt(q.get("delayMs"));
  const demo = {
    ...(tokens === undefined ? {} : { tokens }),
    ...(delayMs === undefined ? {} : { delayMs }),
    ...(q.get("interrupt") === "1" ? { interrupt: true } : {}),
  };
  const token = q.get("token") ?? import.meta.env.VITE_THREADLINE_TOKEN;
  const serverUrl = (q.get("server") ?? DEFAULT_SERVER).replace(/\/+$/, "");
  return {
    serverUrl,
    runtimeUrl: (q.get("runtime") ?? `${serverUrl}/copilotkit`).replace(/\/+$/, ""),
    threadId: q.get("thread") ?? import.meta.env.VITE_THREADLINE_THREAD ?? "demo",
    agentId: q.get("agent") ?? "demo",
    mode: q.get("mode") === "threadline" ? "threadline" : "stock",
    threads: q.get("threads") === "1",
    ...(token ? { token } : {}),
    properties: Object.keys(demo).length > 0 ? { demo } : {},
  };
}
