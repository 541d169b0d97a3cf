import { CopilotChat, CopilotKitProvider } from "@copilotkit/react-core/v2";
import { useEffect, useMemo, useState } from "react";
import { type FollowStatus, ThreadlineAgent } from "threadline/client";
import type { ChatConfig } from "./config";

type Provenance = { metadata?: { threadline?: { trigger?: { kind?: string } } } };

/**
 * A stock CopilotKit v2 chat. In `threadline` mode its agent is a `ThreadlineAgent`, handed to
 * CopilotKit through `agents__unsafe_dev_only`: the chat follows the thread, so replies of
 * scheduled runs (the server's demo heartbeat) appear without anyone typing. In `stock` mode
 * CopilotKit talks to the same server with its own runtime client (`runtimeUrl`).
 */
export function App({ config }: { config: ChatConfig }) {
  const [status, setStatus] = useState<FollowStatus["state"] | "stock">(
    config.mode === "stock" ? "stock" : "connecting",
  );
  const [lastTrigger, setLastTrigger] = useState<string>("none yet");
  const agent = useMemo(
    () =>
      config.mode === "threadline"
        ? new ThreadlineAgent({
            url: config.serverUrl,
            agentId: config.agentId,
            threadId: config.threadId,
            ...(config.token ? { token: config.token } : {}),
            onStatus: (s) => setStatus(s.state),
          })
        : undefined,
    [config],
  );

  useEffect(() => {
    if (!agent) return;
    // Provenance: every run says why it happened (client, schedule, heartbeat, webhook, api).
    const sub = agent.subscribe({
      onRunStartedEvent: ({ event }) => {
        setLastTrigger((event as Provenance).metadata?.threadline?.trigger?.kind ?? "unknown");
      },
    });
    return () => {
      sub.unsubscribe();
      void agent.dispose();
    };
  }, [agent]);

  const headers: Record<string, string> = config.token
    ? { Authorization: `Bearer ${config.token}` }
    : {};
  const chat = <CopilotChat agentId={config.agentId} threadId={config.threadId} />;
  return (
    <div className="layout">
      <header className="bar">
        <strong>Threadline × CopilotKit</strong>
        <span>
          thread <code data-testid="thread-id">{config.threadId}</code> on{" "}
          <code>{config.serverUrl}</code>
        </span>
        <span>
          follow{" "}
          <span className={`status status-${status}`} data-testid="follow-status">
            {status}
          </span>
        </span>
        {agent ? (
          <span>
            last run: <span data-testid="last-trigger">{lastTrigger}</span>
          </span>
        ) : null}
      </header>
      <main className="chat">
        {agent ? (
          <CopilotKitProvider
            agents__unsafe_dev_only={{ [config.agentId]: agent }}
            properties={config.properties}
            enableInspector={false}
          >
            {chat}
          </CopilotKitProvider>
        ) : (
          <CopilotKitProvider
            runtimeUrl={config.serverUrl}
            headers={headers}
            properties={config.properties}
            enableInspector={false}
          >
            {chat}
          </CopilotKitProvider>
        )}
      </main>
    </div>
  );
}
