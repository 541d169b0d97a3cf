import { useThreads } from "@copilotkit/react-core/v2";
import { useState } from "react";

/**
 * A thread list on CopilotKit's own `useThreads` (the data layer of its thread drawer): the
 * threads Threadline keeps for this agent, renamed, archived and deleted through CopilotKit's
 * thread endpoints, and kept current live by the run-activity socket's `thread_metadata`.
 */
export function ThreadList({ agentId, onSelect }: { agentId: string; onSelect(id: string): void }) {
  const { threads, isLoading, error, renameThread, archiveThread, unarchiveThread, deleteThread } =
    useThreads({ agentId, includeArchived: true });
  const [name, setName] = useState("");
  return (
    <aside className="threads" data-testid="thread-list" data-loading={String(isLoading)}>
      <input
        data-testid="thread-name-input"
        placeholder="new name"
        value={name}
        onChange={(e) => setName(e.target.value)}
      />
      {error ? <p className="error">{error.message}</p> : null}
      <ul>
        {threads.map((t) => (
          <li
            key={t.id}
            data-testid="thread-row"
            data-thread-id={t.id}
            data-archived={String(t.archived)}
          >
            <button type="button" className="link" onClick={() => onSelect(t.id)}>
              <span data-testid="thread-name">{t.name ?? t.id}</span>
            </button>
            <button
              type="button"
              data-testid="thread-rename"
              onClick={() => void renameThread(t.id, name)}
            >
              rename
            </button>
            <button
              type="button"
              data-testid="thread-archive"
              onClick={() => void (t.archived ? unarchiveThread(t.id) : archiveThread(t.id))}
            >
              {t.archived ? "unarchive" : "archive"}
            </button>
            <button
              type="button"
              data-testid="thread-delete"
              onClick={() => void deleteThread(t.id)}
            >
              delete
            </button>
          </li>
        ))}
      </ul>
    </aside>
  );
}
