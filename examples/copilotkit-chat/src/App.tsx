import { CopilotChat, CopilotKitProvider } from "@copilotkit/react-core/v2";
import { useEffect, useMemo, useState } from "react";
import { type FollowStatus, ThreadlineAgent } from "threadline/client";
import type { ChatConfig } from "./config";
import { InterruptPrompt } from "./InterruptPrompt";
import { ThreadList } from "./ThreadList";

type Provenance = { metadata?: { threadline?: { trigger?: { kind?: string } } } };

/**
 * A CopilotKit v2 chat. In `stock` mode (the default) it is CopilotKit's own client with nothing
 * but `runtimeUrl` — Threadline's CopilotKit surface (`<server>/copilotkit`) or a CopilotRuntime
 * using Threadline — and replies of runs it did not start (the server's demo heartbeat) still
 * appear live: the surface wakes the chat through CopilotKit's run-activity socket. In
 * `threadline` mode its agent is a following `ThreadlineAgent`, handed to CopilotKit through
 * `agents__unsafe_dev_only`.
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
  const [threadId, setThreadId] = useState(config.threadId);
  // What CopilotKit reports for this chat's agent: a refused run (e.g. a resume Threadline
  // rejects, 400 VALIDATION_FAILED / 409 INTERRUPT_EXPIRED) is shown, not swallowed.
  const [chatError, setChatError] = useState<string | null>(null);
  const chat = (
    <>
      <InterruptPrompt agentId={config.agentId} />
      <CopilotChat
        agentId={config.agentId}
        threadId={threadId}
        onError={(event) => {
          // Typed as the chat's error event or a DOM error event (the prop of its element).
          if ("error" in event) setChatError(event.error.message);
        }}
      />
    </>
  );
  return (
    <div className="layout">
      <header className="bar">
        <strong>Threadline × CopilotKit</strong>
        <span>
          thread <code data-testid="thread-id">{threadId}</code> on{" "}
          <code>{agent ? config.serverUrl : config.runtimeUrl}</code>
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
      {chatError ? (
        <p className="chat-error" role="alert" data-testid="chat-error">
          {chatError}
        </p>
      ) : null}
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
            runtimeUrl={config.runtimeUrl}
            headers={headers}
            properties={config.properties}
            enableInspector={false}
          >
            {config.threads ? <ThreadList agentId={config.agentId} onSelect={setThreadId} /> : null}
            {chat}
          </CopilotKitProvider>
        )}
      </main>
    </div>
  );
}
