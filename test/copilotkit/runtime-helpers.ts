import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { AbstractAgent } from "@ag-ui/client";
import type { BaseEvent } from "@ag-ui/core";
import { ProxiedCopilotRuntimeAgent } from "@copilotkit/core";
import {
  type AgentRunner,
  CopilotRuntime,
  createCopilotRuntimeHandler,
} from "@copilotkit/runtime/v2";
import { createCopilotNodeHandler } from "@copilotkit/runtime/v2/node";

export interface RuntimeServer {
  url: string;
  close(): Promise<void>;
}

/** A real CopilotRuntime with the given runner, served by `node:http` on loopback. */
export async function serveRuntime(
  agents: Record<string, AbstractAgent>,
  runner: AgentRunner,
): Promise<RuntimeServer> {
  const runtime = new CopilotRuntime({ agents, runner });
  const handler = createCopilotRuntimeHandler({ runtime, cors: true });
  const server = createServer(createCopilotNodeHandler(handler));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const runInput = (threadId: string, extra: Record<string, unknown> = {}) => ({
  threadId,
  runId: crypto.randomUUID(),
  messages: [],
  tools: [],
  context: [],
  state: {},
  forwardedProps: {},
  ...extra,
});

export function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/** CopilotKit's own browser-side agent, talking REST to the runtime. */
export function stockAgent(url: string, threadId: string, agentId = "demo") {
  const agent = new ProxiedCopilotRuntimeAgent({
    runtimeUrl: url,
    agentId,
    transport: "rest",
  } as never);
  agent.threadId = threadId;
  return agent;
}

type Provenance = BaseEvent & { metadata?: { threadline?: { trigger?: { kind?: string } } } };

/** The trigger kinds of the runs in a stream, in order. */
export const triggerKinds = (events: BaseEvent[]): (string | undefined)[] =>
  events
    .filter((e) => e.type === "RUN_STARTED")
    .map((e) => (e as Provenance).metadata?.threadline?.trigger?.kind);
