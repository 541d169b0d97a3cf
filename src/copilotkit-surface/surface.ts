import type { Server } from "node:http";
import type { BaseEvent, Message } from "@ag-ui/core";
import { z } from "zod";
import { ThreadlineError } from "../core/errors.js";
import { FanOut } from "../core/fanout.js";
import { Follow } from "../core/follow.js";
import { type Logger, silentLogger } from "../core/logger.js";
import type { ThreadStore } from "../core/store.js";
import type { ThreadPatch, ThreadSummary } from "../core/types.js";
import { type AuthorizeHook, authorize } from "../http/auth.js";
import { type CorsOption, type OriginPolicy, originPolicy } from "../http/origin-policy.js";
import { describeIssues } from "../http/validation.js";
import { PrincipalAccess } from "./access.js";
import { JoinTokens, resolveJoinSecret } from "./join-token.js";
import { PhoenixSocketServer } from "./phoenix-socket.js";
import { RunActivity } from "./run-activity.js";
import {
  listThreadPage,
  METADATA_ARCHIVED,
  METADATA_NAME,
  threadRecord,
} from "./thread-records.js";
import {
  type CopilotKitThread,
  DEFAULT_BASE_PATH,
  PHOENIX_TRANSPORT_SUFFIX,
  SOCKET_PATH,
  type ThreadMetadataPayload,
} from "./wire.js";

const mutationBody = z.looseObject({
  agentId: z.string().optional(),
  name: z.string().max(500).nullable().optional(),
  archived: z.boolean().optional(),
});

/** Options of the CopilotKit surface (`createThreadline({ copilotkit })`, `withThreadline`). */
export interface CopilotKitSurfaceOptions {
  /**
   * Path the surface is served under on Threadline's own server — what a stock chat's
   * `runtimeUrl` points at. Default `/copilotkit`.
   */
  basePath?: string;
  /**
   * Key of the join tokens, at least 16 characters. Give every instance the same one (and keep
   * it across restarts) so an open page's socket rejoins anywhere. Default: derived from the
   * server token; without token or `authorize`, a fixed key (nothing to protect); with only an
   * `authorize` hook, a random per-process key (a warning says so).
   */
  secret?: string;
  /** Lifetime of a join token. Default 24 h (CopilotKit never asks for a new one). */
  joinTokenTtlMs?: number;
  /** Request headers that identify a principal. Default `authorization`, `cookie`. */
  principalHeaders?: string[];
  /**
   * Web pages (origins) that may open the run-activity socket: as the server's `cors` option
   * (`true` / `"*"` any, a list, default none but the server's own origin).
   */
  cors?: CorsOption;
  /**
   * The public URL of the base path (e.g. `https://api.example.com/copilotkit`) when the server
   * sits behind a proxy; by default the socket URL is built from the `/info` request.
   */
  publicUrl?: string;
}

/** Thread mutations as the host executes them (a delete cancels the thread's active run first). */
export interface SurfaceMutations {
  update(threadId: string, patch: ThreadPatch): Promise<ThreadSummary>;
  delete(threadId: string): Promise<unknown>;
}

export interface SurfaceDeps {
  store: ThreadStore;
  /** Rename, archive, delete; without them CopilotKit is told mutations are not available. */
  mutations?: SurfaceMutations;
  logger?: Logger;
  token?: string;
  authorize?: AuthorizeHook;
  /** The host's authentication (see `SurfaceAccess.authenticate`). */
  authenticate?: (request: Request) => Promise<unknown>;
  /** A secret the host's instances share (a JWT secret), to derive the join-token key from. */
  keyMaterial?: string;
  /** A follow on the caller's fan-out (for `GET /threads/:id/events`); else an own fan-out. */
  follow?: (threadId: string, opts: { replay: "compact"; live: false }) => Follow;
}

const normalizeBase = (p: string) => (p === "/" ? "" : p.replace(/\/+$/, ""));

/**
 * CopilotKit's thread store surface over a Threadline store: the REST routes CopilotKit's thread
 * store calls (`GET /threads`, `POST /threads/subscribe`, inspect, mutations) as plain
 * Request → Response handlers, and the run-activity websocket that wakes a stock chat when a run
 * starts that it did not start. Threadline's server mounts it under `basePath`;
 * `withThreadline` puts it into a CopilotRuntime's handler.
 */
export class CopilotKitSurface {
  readonly basePath: string;
  readonly tokens: JoinTokens;
  readonly access: PrincipalAccess;
  readonly activity: RunActivity;
  readonly socket: PhoenixSocketServer;
  private readonly store: ThreadStore;
  private readonly logger: Logger;
  private readonly detach = new Set<() => void>();
  private fanout: FanOut | undefined;

  constructor(
    private readonly deps: SurfaceDeps,
    private readonly opts: CopilotKitSurfaceOptions = {},
  ) {
    this.store = deps.store;
    this.logger = deps.logger ?? silentLogger;
    this.basePath = normalizeBase(opts.basePath ?? DEFAULT_BASE_PATH);
    const secret = resolveJoinSecret({
      ...(opts.secret === undefined ? {} : { secret: opts.secret }),
      ...(deps.token || deps.keyMaterial ? { token: deps.token ?? deps.keyMaterial } : {}),
      guarded: deps.authorize !== undefined,
      logger: this.logger,
    });
    this.tokens = new JoinTokens(secret, {
      ...(opts.joinTokenTtlMs === undefined ? {} : { ttlMs: opts.joinTokenTtlMs }),
      ...(opts.principalHeaders ? { principalHeaders: opts.principalHeaders } : {}),
    });
    this.access = new PrincipalAccess(
      {
        ...(deps.token ? { token: deps.token } : {}),
        ...(deps.authorize ? { authorize: deps.authorize } : {}),
        ...(deps.authenticate ? { authenticate: deps.authenticate } : {}),
      },
      this.basePath,
      this.logger,
    );
    this.activity = new RunActivity(this.store, this.access, this.logger);
    this.socket = new PhoenixSocketServer({
      tokens: this.tokens,
      access: this.access,
      activity: this.activity,
      logger: this.logger,
      matches: (pathname) => pathname.endsWith(SOCKET_PATH + PHOENIX_TRANSPORT_SUFFIX),
      allowsOrigin: allowsOrigin(originPolicy(opts.cors)),
    });
  }

  /** Starts listening to the store's run starts. */
  start(): void {
    this.activity.start();
  }

  /** Serves the run-activity websocket on `server` (its `upgrade` requests for the socket path). */
  attach(server: Server): () => void {
    const off = this.socket.attach(server);
    this.detach.add(off);
    return () => {
      this.detach.delete(off);
      off();
    };
  }

  /**
   * The websocket URL for `/info`'s `intelligence.wsUrl`: next to the route that answered
   * `/info` (`<runtimeUrl>/socket`), or under `publicUrl`.
   */
  wsUrl(request: Request, runtimePath?: string): string {
    const base = this.opts.publicUrl
      ? new URL(this.opts.publicUrl.replace(/\/+$/, ""))
      : new URL(request.url);
    if (!this.opts.publicUrl) {
      const path = runtimePath ?? base.pathname.replace(/\/info\/?$/, "");
      base.pathname = normalizeBase(path);
    }
    base.protocol = base.protocol === "https:" ? "wss:" : "ws:";
    base.search = "";
    base.hash = "";
    return `${base.toString().replace(/\/+$/, "")}${SOCKET_PATH}`;
  }

  /** What `/info` adds so a stock chat turns its run-activity wake on. */
  infoFields(request: Request, runtimePath?: string): Record<string, unknown> {
    return {
      mode: "sse",
      intelligence: { wsUrl: this.wsUrl(request, runtimePath) },
      threadEndpoints: {
        list: true,
        inspect: true,
        mutations: this.deps.mutations !== undefined,
        realtimeMetadata: true,
      },
    };
  }

  /** `GET /threads?agentId=&limit=&cursor=&includeArchived=` → `{ threads, joinCode, nextCursor }`. */
  async listThreads(request: Request): Promise<Response> {
    await authorize(this.deps.authorize, request, { action: "read" });
    const q = new URL(request.url).searchParams;
    const limitText = q.get("limit");
    const limit = limitText === null ? undefined : Number(limitText);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
      throw new ThreadlineError("VALIDATION_FAILED", "limit must be a positive integer");
    }
    const hook = this.deps.authorize;
    const page = await listThreadPage(this.store, {
      ...(q.get("agentId") ? { agentId: q.get("agentId")! } : {}),
      ...(limit === undefined ? {} : { limit }),
      ...(q.get("cursor") ? { cursor: q.get("cursor")! } : {}),
      includeArchived: q.get("includeArchived") === "true",
      canRead: async (threadId) => !hook || (await hook(request, { threadId, action: "read" })),
    });
    return Response.json({ ...page, joinCode: this.tokens.principalOf(request).code });
  }

  /** `POST /threads/subscribe` → `{ joinToken }` for the asking principal's channel. */
  async subscribe(request: Request): Promise<Response> {
    await authorize(this.deps.authorize, request, { action: "read" });
    return Response.json({ joinToken: await this.tokens.mint(this.tokens.principalOf(request)) });
  }

  /** `GET /threads/:id/messages` → `{ messages }` in CopilotKit's shape. */
  async threadMessages(request: Request, threadId: string): Promise<Response> {
    const thread = await this.readable(request, threadId);
    return Response.json({ messages: (thread?.messages ?? []).map(copilotKitMessage) });
  }

  /** `GET /threads/:id/state` → `{ state }` (null for an unknown thread). */
  async threadState(request: Request, threadId: string): Promise<Response> {
    const thread = await this.readable(request, threadId);
    return Response.json({ state: thread ? (thread.state ?? null) : null });
  }

  /** `GET /threads/:id/events` → `{ events }`: the thread compacted into one valid AG-UI run. */
  async threadEvents(request: Request, threadId: string): Promise<Response> {
    const thread = await this.readable(request, threadId);
    if (!thread || thread.lastSeq === 0) return Response.json({ events: [] });
    const follow = this.follow(threadId);
    const events: BaseEvent[] = [];
    try {
      for await (const item of follow) events.push(item.event);
    } finally {
      follow.close();
    }
    return Response.json({ events });
  }

  /**
   * `PATCH /threads/:id` `{ agentId, name?, archived? }` (rename, unarchive) and
   * `POST /threads/:id/archive` (`archived: true`): the name and archived flag live in the
   * thread's metadata. Answers the updated CopilotKit thread; open lists get `thread_metadata`.
   */
  async updateThread(request: Request, threadId: string, archive = false): Promise<Response> {
    const mutations = this.requireMutations();
    const body = await jsonObject(request);
    const parsed = mutationBody.safeParse(body);
    if (!parsed.success) {
      throw new ThreadlineError(
        "VALIDATION_FAILED",
        `invalid thread update: ${describeIssues(parsed.error as never)}`,
      );
    }
    await authorize(this.deps.authorize, request, { threadId, action: "write" });
    const metadata: Record<string, unknown> = {};
    if (parsed.data.name !== undefined) metadata[METADATA_NAME] = parsed.data.name;
    if (archive) metadata[METADATA_ARCHIVED] = true;
    else if (parsed.data.archived !== undefined) metadata[METADATA_ARCHIVED] = parsed.data.archived;
    const summary = await mutations.update(threadId, { metadata });
    const thread = await threadRecord(this.store, summary);
    if (thread) {
      const operation =
        metadata[METADATA_ARCHIVED] === true
          ? "archived"
          : metadata[METADATA_ARCHIVED] === false
            ? "unarchived"
            : "renamed";
      await this.pushMetadata(threadId, { operation, thread });
    }
    return Response.json(archive ? { threadId, archived: true } : (thread ?? { id: threadId }));
  }

  /** `DELETE /threads/:id`: the thread, its log and its runs; open lists drop it. */
  async deleteThread(request: Request, threadId: string): Promise<Response> {
    const mutations = this.requireMutations();
    await authorize(this.deps.authorize, request, { threadId, action: "write" });
    await mutations.delete(threadId);
    await this.pushMetadata(threadId, { operation: "deleted", deleted: { id: threadId } });
    return Response.json({ threadId, deleted: true });
  }

  close(): void {
    for (const off of this.detach) off();
    this.detach.clear();
    this.socket.close();
    this.activity.close();
    this.fanout?.close();
  }

  private requireMutations(): SurfaceMutations {
    if (!this.deps.mutations) {
      throw new ThreadlineError(
        "BAD_REQUEST",
        "thread mutations need a Threadline instance or a ThreadlineAgentRunner behind this surface",
      );
    }
    return this.deps.mutations;
  }

  private async pushMetadata(
    threadId: string,
    event:
      | { operation: "archived" | "unarchived" | "renamed"; thread: CopilotKitThread }
      | { operation: "deleted"; deleted: { id: string } },
  ): Promise<void> {
    const payload = {
      ...event,
      threadId,
      userId: "",
      organizationId: "",
      occurredAt: new Date().toISOString(),
    } as ThreadMetadataPayload;
    await this.activity.pushMetadata(threadId, payload);
  }

  private async readable(request: Request, threadId: string) {
    await authorize(this.deps.authorize, request, { threadId, action: "read" });
    return this.store.threads.get(threadId);
  }

  private follow(threadId: string): Follow {
    const opts = { replay: "compact", live: false } as const;
    if (this.deps.follow) return this.deps.follow(threadId, opts);
    this.fanout ??= new FanOut(this.store);
    return new Follow(this.store, this.fanout, threadId, opts);
  }
}

/** The API's origin rule for the socket: no Origin (not a page), any, listed, or its own. */
function allowsOrigin(policy: OriginPolicy) {
  return (origin: string | undefined, host: string | undefined): boolean => {
    if (origin === undefined || policy.anyOrigin || policy.origins.has(origin)) return true;
    try {
      return host !== undefined && new URL(origin).host === host.toLowerCase();
    } catch {
      return false;
    }
  };
}

async function jsonObject(request: Request): Promise<unknown> {
  const text = await request.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ThreadlineError("INVALID_JSON", "the request body is not valid JSON");
  }
}

/** CopilotKit's message shape of `GET /threads/:id/messages` (tool calls flattened). */
function copilotKitMessage(msg: Message): Record<string, unknown> {
  if (msg.role === "assistant") {
    const calls = msg.toolCalls ?? [];
    return {
      id: msg.id,
      role: msg.role,
      ...(msg.content === undefined ? {} : { content: msg.content }),
      ...(calls.length > 0
        ? {
            toolCalls: calls.map((c) => ({
              id: c.id,
              name: c.function.name,
              args: c.function.arguments,
            })),
          }
        : {}),
    };
  }
  if (msg.role === "tool") {
    return { id: msg.id, role: msg.role, content: msg.content, toolCallId: msg.toolCallId };
  }
  const content = (msg as { content?: unknown }).content;
  return { id: msg.id, role: msg.role, ...(content === undefined ? {} : { content }) };
}
