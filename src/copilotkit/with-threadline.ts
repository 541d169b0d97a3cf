import type { Server } from "node:http";
import type { CopilotRuntimeHooks, RouteInfo } from "@copilotkit/runtime/v2";
import { CopilotKitSurface, type CopilotKitSurfaceOptions } from "../copilotkit-surface/surface.js";
import { ThreadlineError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { ThreadStore } from "../core/store.js";
import { deleteThread, updateThread } from "../core/thread-admin.js";
import type { ThreadPatch } from "../core/types.js";
import type { AuthorizeHook } from "../http/auth.js";
import type { Threadline } from "../threadline.js";
import { RunnerRequests } from "./runner-requests.js";
import type { ThreadlineAgentRunner } from "./threadline-agent-runner.js";

/** Where the threads of a CopilotRuntime live. */
export type ThreadlineSurfaceSource = (
  | /** A Threadline instance: its CopilotKit surface (secret, announcer) is shared. */
  { threadline: Threadline } /** The runtime's runner. */
  | { runner: ThreadlineAgentRunner }
  | { store: ThreadStore }
) & {
  /** Who may read which thread (listing, inspecting, announcing); default: everyone. */
  authorize?: AuthorizeHook;
  logger?: Logger;
} & Omit<CopilotKitSurfaceOptions, "basePath">;

const SURFACE = Symbol.for("threadline.copilotkit.surface");

/** Handler options after `withThreadline`: the same object type, carrying its surface. */
export type WithThreadline<O> = Omit<O, "hooks"> & { hooks: CopilotRuntimeHooks };

function surfaceOf(source: ThreadlineSurfaceSource): CopilotKitSurface {
  if ("threadline" in source && source.threadline.copilotkit) return source.threadline.copilotkit;
  const store =
    "threadline" in source
      ? source.threadline.store
      : "runner" in source
        ? source.runner.store
        : source.store;
  const { authorize, logger, secret, joinTokenTtlMs, principalHeaders, publicUrl, cors } = source;
  const coordinator =
    "threadline" in source
      ? source.threadline.coordinator
      : "runner" in source
        ? source.runner.coordinator
        : undefined;
  const mutations = coordinator && {
    update: (threadId: string, patch: ThreadPatch) => updateThread(store, threadId, patch),
    delete: (threadId: string) => deleteThread({ store, coordinator }, threadId),
  };
  const surface = new CopilotKitSurface(
    {
      store,
      ...(mutations ? { mutations } : {}),
      ...(authorize ? { authorize } : {}),
      ...(logger ? { logger } : {}),
    },
    {
      ...(secret === undefined ? {} : { secret }),
      ...(joinTokenTtlMs === undefined ? {} : { joinTokenTtlMs }),
      ...(principalHeaders ? { principalHeaders } : {}),
      ...(publicUrl ? { publicUrl } : {}),
      ...(cors === undefined ? {} : { cors }),
    },
  );
  surface.start();
  return surface;
}

/**
 * Adds Threadline's CopilotKit surface to a CopilotRuntime's handler options
 * (`createCopilotRuntimeHandler` / `createCopilotHonoHandler` / `createCopilotExpressHandler`),
 * through their public `hooks`: `/info` advertises the run-activity socket (so a stock chat wakes
 * for runs it did not start) and CopilotKit's thread routes are answered from the Threadline
 * store. Serve the socket with `attachThreadlineSocket(server, options)` on the same server.
 * A run request reaches the runtime's `ThreadlineAgentRunner` with its `Request` (for the
 * runner's `principal` option and the request's `traceparent`). Your own hooks still run (yours
 * first).
 */
export function withThreadline<O extends object>(
  options: O & { hooks?: CopilotRuntimeHooks },
  source: ThreadlineSurfaceSource,
): WithThreadline<O> {
  const surface = surfaceOf(source);
  const user = options.hooks ?? {};
  const hooks: CopilotRuntimeHooks = {
    ...user,
    async onBeforeHandler(ctx) {
      const changed = await user.onBeforeHandler?.(ctx);
      const request = changed instanceof Request ? changed : ctx.request;
      const answer = await threadRoute(surface, ctx.route, request);
      // CopilotKit sends a thrown Response as the answer (through onResponse and CORS).
      if (answer) throw answer;
      const requests = (ctx.runtime as { runner?: { requests?: unknown } }).runner?.requests;
      if (ctx.route.method === "agent/run" && requests instanceof RunnerRequests) {
        return requests.admit(request);
      }
      return changed;
    },
    async onResponse(ctx) {
      let response = ctx.response;
      if (ctx.route?.method === "info" && response.ok) {
        const info = (await response.clone().json()) as Record<string, unknown>;
        const runtimePath = ctx.path.replace(/\/info\/?$/, "");
        response = Response.json(
          { ...info, ...surface.infoFields(ctx.request, runtimePath) },
          {
            status: response.status,
            headers: response.headers,
          },
        );
      }
      const changed = await user.onResponse?.({ ...ctx, response });
      return changed instanceof Response ? changed : response;
    },
  };
  const out = { ...options, hooks } as WithThreadline<O>;
  Object.defineProperty(out, SURFACE, { value: surface, enumerable: false });
  return out;
}

/**
 * Serves the run-activity websocket on the Node server that serves the runtime (its `upgrade`
 * requests for `<runtime path>/socket/websocket`; other upgrades are left alone). Pass the
 * options `withThreadline` returned. Returns a function that detaches it and ends its sockets.
 */
export function attachThreadlineSocket(
  server: Server,
  options: { hooks?: CopilotRuntimeHooks } | CopilotKitSurface,
): () => void {
  const surface =
    options instanceof CopilotKitSurface
      ? options
      : (options as { [SURFACE]?: CopilotKitSurface })[SURFACE];
  if (!surface) {
    throw new ThreadlineError(
      "BAD_REQUEST",
      "attachThreadlineSocket needs the options returned by withThreadline(...)",
    );
  }
  return surface.attach(server);
}

/** CopilotKit's thread routes, answered from Threadline; undefined for every other route. */
async function threadRoute(
  surface: CopilotKitSurface,
  route: RouteInfo,
  request: Request,
): Promise<Response | undefined> {
  try {
    switch (route.method) {
      case "threads/list":
        return await surface.listThreads(request);
      case "threads/subscribe":
        return await surface.subscribe(request);
      case "threads/messages":
        return await surface.threadMessages(request, route.threadId);
      case "threads/state":
        return await surface.threadState(request, route.threadId);
      case "threads/events":
        return await surface.threadEvents(request, route.threadId);
      case "threads/update":
        return request.method.toUpperCase() === "DELETE"
          ? await surface.deleteThread(request, route.threadId)
          : await surface.updateThread(request, route.threadId);
      case "threads/archive":
        return await surface.updateThread(request, route.threadId, true);
      default:
        return undefined;
    }
  } catch (error) {
    if (ThreadlineError.is(error)) return error.toResponse();
    throw error;
  }
}
