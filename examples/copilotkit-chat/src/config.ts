/**
 * What the page talks to, from the query string (then Vite env, then defaults):
 * `?server=http://127.0.0.1:8787&thread=demo&agent=demo&mode=threadline|stock&token=…`
 * and, to script the demo agent, `&tokens=200&delayMs=50` (sent as `forwardedProps.demo`).
 */
export interface ChatConfig {
  serverUrl: string;
  threadId: string;
  agentId: string;
  /** `threadline`: a following ThreadlineAgent. `stock`: CopilotKit's own runtime client. */
  mode: "threadline" | "stock";
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
  };
  const token = q.get("token") ?? import.meta.env.VITE_THREADLINE_TOKEN;
  return {
    serverUrl: (q.get("server") ?? DEFAULT_SERVER).replace(/\/+$/, ""),
    threadId: q.get("thread") ?? import.meta.env.VITE_THREADLINE_THREAD ?? "demo",
    agentId: q.get("agent") ?? "demo",
    mode: q.get("mode") === "stock" ? "stock" : "threadline",
    ...(token ? { token } : {}),
    properties: Object.keys(demo).length > 0 ? { demo } : {},
  };
}
