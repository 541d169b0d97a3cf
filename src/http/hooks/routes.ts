import { createHash } from "node:crypto";
import { ThreadlineError } from "../../core/errors.js";
import { hookRunId } from "../../core/run-ids.js";
import { PUBLIC, RouteTable } from "../access/route-table.js";
import { limitBody } from "../body-limit.js";
import type { HttpDeps } from "../deps.js";
import { traceParentOf } from "../trace-context.js";
import { parseJsonText, pathId } from "../validation.js";
import { type CompiledHook, compileHooks } from "./hook-config.js";
import { threadlineVerifier, type VerifiedWebhook, type WebhookRequest } from "./verifiers.js";

/**
 * `POST /hooks/:hookId`. Webhook senders authenticate with the HMAC signature, not the bearer
 * token, so these routes are mounted before the token middleware and bring their own body limit.
 */
export function hookRoutes(deps: HttpDeps, opts: { maxBytes: number }): RouteTable {
  const hooks = compileHooks(deps.hooks, deps.agents.ids());
  const routes = new RouteTable(deps.gate);
  routes.app.use("/hooks/*", limitBody(opts.maxBytes));

  // Public: the signature is the credential (checked in the handler, per provider).
  routes.post("/hooks/:hookId", PUBLIC, async (c) => {
    await deps.ready;
    const hookId = pathId(c, "hookId");
    const hook = hooks.get(hookId);
    if (!hook) throw new ThreadlineError("HOOK_NOT_FOUND", `unknown hook '${hookId}'`);
    try {
      const res = await deliver(hookId, hook, c.req.raw);
      deps.telemetry.webhookDelivery?.(hookId, res.status === 200 ? "duplicate" : "accepted");
      return res;
    } catch (error) {
      const status = ThreadlineError.is(error) ? error.status : 500;
      const outcome = status === 401 ? "unauthorized" : status < 500 ? "invalid" : "failed";
      deps.telemetry.webhookDelivery?.(hookId, outcome);
      throw error;
    }
  });

  /** Verifies, maps and starts one delivery's run. */
  async function deliver(hookId: string, hook: CompiledHook, request: Request): Promise<Response> {
    const body = new Uint8Array(await request.arrayBuffer());
    const verified = await verify(hook, {
      headers: request.headers,
      body,
      secrets: hook.secrets,
      nowMs: deps.clock.now(),
      ...(hook.toleranceSec === undefined ? {} : { toleranceSec: hook.toleranceSec }),
    });
    const payload = parsePayload(body);
    const deliveryId = verified.deliveryId ?? hook.verifier.deliveryIdOf?.(payload);
    const delivery = { hookId, headers: request.headers, ...(deliveryId ? { deliveryId } : {}) };
    const { threadId, input } = await mapDelivery(hook, payload, delivery);

    // The run id is derived from the provider's delivery id (a retry carries the same one) or,
    // without one, from the signature, which names the exact request; the store refuses a
    // second run with the same id: the run start itself is the exactly-once claim. A delivery
    // refused for another reason (busy thread under `reject`) is not recorded, so the sender
    // may retry it. Other providers' ids are prefixed with the provider's name, so they never
    // collide with each other (Threadline's own keep the name they always had).
    const name =
      deliveryId === undefined
        ? verified.fingerprint
        : hook.verifier === threadlineVerifier
          ? deliveryId
          : `${hook.verifier.name}:${deliveryId}`;
    const runId = hookRunId(hookId, createHash("sha256").update(name).digest("hex").slice(0, 32));
    const traceparent = traceParentOf(request);
    let result: Awaited<ReturnType<typeof deps.startRun>>;
    try {
      result = await deps.startRun({
        threadId,
        agentId: hook.agentId,
        runId,
        input,
        multitask: hook.multitask,
        trigger: { kind: "webhook", hookId, ...(deliveryId ? { deliveryId } : {}) },
        ...(traceparent ? { traceparent } : {}),
      });
    } catch (error) {
      if (!ThreadlineError.is(error, "CONFLICT")) throw error;
      return Response.json(
        { duplicate: true, ...(deliveryId ? { deliveryId } : {}) },
        { status: 200 },
      );
    }
    return Response.json({ runId: result.runId, threadId, status: result.status }, { status: 202 });
  }
  return routes;
}

/** Runs the hook's verifier; whatever it throws is a 401 (or its own ThreadlineError). */
async function verify(hook: CompiledHook, req: WebhookRequest): Promise<VerifiedWebhook> {
  try {
    return await hook.verifier.verify(req);
  } catch (error) {
    if (ThreadlineError.is(error)) throw error;
    throw new ThreadlineError(
      "UNAUTHORIZED",
      `the ${hook.verifier.name} verifier refused the delivery: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function parsePayload(body: Uint8Array): unknown {
  return parseJsonText(new TextDecoder().decode(body), "webhook body");
}

async function mapDelivery(
  hook: CompiledHook,
  payload: unknown,
  delivery: Parameters<CompiledHook["threadFor"]>[1],
) {
  try {
    return {
      threadId: await hook.threadFor(payload, delivery),
      input: await hook.inputFor(payload, delivery),
    };
  } catch (error) {
    if (ThreadlineError.is(error)) throw error;
    throw new ThreadlineError(
      "BAD_REQUEST",
      `hook '${hook.id}' could not map this payload: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
