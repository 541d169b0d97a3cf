import { type Interrupt, type InterruptRenderProps, useInterrupt } from "@copilotkit/react-core/v2";
import { useState } from "react";

/**
 * Shows the question a run ended with (AG-UI `RUN_FINISHED` `outcome: { type: "interrupt" }`)
 * inside the stock chat, with CopilotKit's own `useInterrupt`: the chat learns it from the
 * connect's snapshot run — also when the run that asked was a schedule's, hours before the page
 * opened — and answering it makes CopilotKit run the agent again with `resume`, the reply
 * streaming into the chat. Threadline checks the answer (`responseSchema`) before the run starts.
 */
export function InterruptPrompt({ agentId }: { agentId: string }) {
  useInterrupt({
    agentId,
    render: (props) => <InterruptCards {...props} />,
  });
  return null;
}

type Props = Pick<InterruptRenderProps, "interrupts" | "resolve" | "cancel">;

function InterruptCards({ interrupts, resolve, cancel }: Props) {
  return (
    <div className="interrupts" data-testid="chat-interrupts">
      {interrupts.map((i) => (
        <InterruptCard key={i.id} interrupt={i} resolve={resolve} cancel={cancel} />
      ))}
    </div>
  );
}

/** `{ type: "object", properties: { <one boolean> } }`: an approval, answered by two buttons. */
function approvalKey(schema: unknown): string | undefined {
  const s = schema as { type?: unknown; properties?: Record<string, { type?: unknown }> };
  if (s?.type !== "object" || !s.properties) return undefined;
  const keys = Object.keys(s.properties);
  return keys.length === 1 && s.properties[keys[0]!]?.type === "boolean" ? keys[0] : undefined;
}

function InterruptCard({
  interrupt,
  resolve,
  cancel,
}: { interrupt: Interrupt } & Pick<Props, "resolve" | "cancel">) {
  const [json, setJson] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [sent, setSent] = useState(false);
  const approval = approvalKey(interrupt.responseSchema);
  const answer = (payload: unknown) => {
    setSent(true);
    void resolve(payload, interrupt.id);
  };
  const answerJson = () => {
    try {
      answer(json.trim() === "" ? undefined : JSON.parse(json));
    } catch (error) {
      setProblem(`not JSON: ${(error as Error).message}`);
    }
  };
  return (
    <div className="interrupt" data-testid="chat-interrupt" data-interrupt-id={interrupt.id}>
      <strong data-testid="chat-interrupt-reason">{interrupt.reason}</strong>
      {interrupt.message ? <p data-testid="chat-interrupt-message">{interrupt.message}</p> : null}
      {interrupt.expiresAt ? (
        <p className="muted">
          expires <time dateTime={interrupt.expiresAt}>{interrupt.expiresAt}</time>
        </p>
      ) : null}
      {approval ? (
        <div className="buttons">
          <button
            type="button"
            disabled={sent}
            data-testid="chat-interrupt-approve"
            onClick={() => answer({ [approval]: true })}
          >
            Approve
          </button>
          <button
            type="button"
            disabled={sent}
            data-testid="chat-interrupt-decline"
            onClick={() => answer({ [approval]: false })}
          >
            Decline
          </button>
        </div>
      ) : (
        <div className="buttons">
          <textarea
            aria-label="Answer (JSON)"
            data-testid="chat-interrupt-json"
            value={json}
            onChange={(e) => setJson(e.target.value)}
          />
          <button
            type="button"
            disabled={sent}
            data-testid="chat-interrupt-resolve"
            onClick={answerJson}
          >
            Resolve
          </button>
        </div>
      )}
      <button
        type="button"
        disabled={sent}
        data-testid="chat-interrupt-cancel"
        onClick={() => {
          setSent(true);
          void cancel(interrupt.id);
        }}
      >
        Cancel
      </button>
      {problem ? (
        <p className="error" role="alert">
          {problem}
        </p>
      ) : null}
    </div>
  );
}
