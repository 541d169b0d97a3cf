/**
 * Wire names of the CopilotKit run-activity surface (PROTOCOL.md §10). These are CopilotKit
 * internals — its thread store (`@copilotkit/core` `createThreadStore`) and the `phoenix` client
 * it uses — read from the versions below; `test/e2e/copilotkit-wake.test.ts` fails when they
 * change.
 */
export const CHECKED_AGAINST = {
  "@copilotkit/react-core": "1.74.0",
  "@copilotkit/core": "1.74.0 (react-core's) and 1.75.0",
  "@copilotkit/runtime": "1.75.0",
  phoenix: "1.8.16",
} as const;

/** Where Threadline's own server serves the CopilotKit surface: a stock chat's `runtimeUrl`. */
export const DEFAULT_BASE_PATH = "/copilotkit";

/** The websocket endpoint under the base path; `/info` advertises it as `intelligence.wsUrl`. */
export const SOCKET_PATH = "/socket";
/** The Phoenix client appends its transport name to the endpoint URL. */
export const PHOENIX_TRANSPORT_SUFFIX = "/websocket";
/** Query parameter carrying the join token (`Socket(url, { params: { join_token } })`). */
export const JOIN_TOKEN_PARAM = "join_token";

/** The per-principal channel: `user_meta:<joinCode>`, the code from `GET /threads`. */
export const TOPIC_PREFIX = "user_meta:";

export const EVENT_RUN_ACTIVITY = "thread_run_activity";
export const EVENT_THREAD_METADATA = "thread_metadata";

/** Phoenix protocol (V2 JSON serializer: `[join_ref, ref, topic, event, payload]`). */
export const PHX = {
  join: "phx_join",
  leave: "phx_leave",
  reply: "phx_reply",
  close: "phx_close",
  error: "phx_error",
  heartbeat: "heartbeat",
  systemTopic: "phoenix",
} as const;

/** The Phoenix client's heartbeat period; a socket silent for longer than this is dead. */
export const CLIENT_HEARTBEAT_MS = 30_000;

/** `thread_run_activity` payload (CopilotKit normalises snake_case too; we send camelCase). */
export interface RunActivityPayload {
  threadId: string;
  agentId?: string;
  runId: string;
  eventType: "RUN_STARTED";
  latestEventId?: string;
}

/** CopilotKit's thread record (`ThreadRecord` in `@copilotkit/core`); dates are ISO strings. */
export interface CopilotKitThread {
  id: string;
  organizationId: string;
  agentId: string;
  createdById: string;
  name: string | null;
  archived: boolean;
  createdAt: string;
  updatedAt: string;
  lastRunAt?: string;
}

export type ThreadMetadataPayload =
  | {
      operation: "created" | "updated" | "archived" | "unarchived" | "renamed";
      threadId: string;
      userId: string;
      organizationId: string;
      occurredAt: string;
      thread: CopilotKitThread;
    }
  | {
      operation: "deleted";
      threadId: string;
      userId: string;
      organizationId: string;
      occurredAt: string;
      deleted: { id: string };
    };
