import { createHash } from "node:crypto";
import { Hono } from "hono";
import { ThreadlineError } from "../../core/errors.js";
import { hookRunId } from "../../core/run-ids.js";
import { HEADER_DELIVERY, HEADER_SIGNATURE } from "../../protocol.js";
import type { Threadline } from "../../threadline.js";
import { limitBody } from "../body-limit.js";
import { parseJsonText, pathId } from "../validation.js";
import { type CompiledHook, compileHooks } from "./hook-config.js";
import { DELIVERY_ID, verifySignature } from "./signature.js";

/**
 * `POST /hooks/:hookId`. Webhook senders authenticate with the HMAC signature, not the bearer
 * token, so these routes are mounted before the token middleware and bring their own body limit.
 */
export function hookRoutes(tl: Threadline, opts: { maxBytes: number }): Hono {
  const hooks = compileHooks(tl.options.hooks ?? [], tl.coordinator.agentIds());
  const app = new Hono();
  app.use("/hooks/*", limitBody(opts.maxBytes));

  app.post("/hooks/:hookId", async (c) => {
    await tl.ready;
    const hookId = pathId(c, "hookId");
    const hook = hooks.get(hookId);
    if (!hook) throw new ThreadlineError("HOOK_NOT_FOUND", `unknown hook '${hookId}'`);
    const body = new Uint8Array(await c.req.arrayBuffer());
    const deliveryId = c.req.header(HEADER_DELIVERY);
    if (deliveryId !== undefined && !DELIVERY_ID.test(deliveryId)) {
      throw new ThreadlineError(
        "BAD_REQUEST",
        `${HEADER_DELIVERY} must be 1-200 printable ASCII characters without spaces or dots`,
      );
    }
    const verified = verifySignature({
      header: c.req.header(HEADER_SIGNATURE),
      body,
      deliveryId,
      secrets: hook.secrets,
      nowMs: tl.scheduler.clock.now(),
      ...(hook.toleranceSec === undefined ? {} : { toleranceSec: hook.toleranceSec }),
    });
    const payload = parsePayload(body);
    const delivery = { hookId, headers: c.req.raw.headers, ...(deliveryId ? { deliveryId } : {}) };
    const { threadId, input } = await mapDelivery(hook, payload, delivery);

    // The run id is derived from the delivery id, which the signature covers (or, without one,
    // from the signature, which names the exact request: parsed strictly, it has one spelling),
    // and the store refuses a second run with the same id: the run start itself is the
    // exactly-once claim. A delivery refused for another reason (busy thread under `reject`) is
    // not recorded, so the sender may retry it.
    const name = deliveryId ?? `sig:${verified.signature}`;
    const runId = hookRunId(hookId, createHash("sha256").update(name).digest("hex").slice(0, 32));
    let result: Awaited<ReturnType<typeof tl.startRun>>;
    try {
      result = await tl.startRun({
        threadId,
        agentId: hook.agentId,
        runId,
        input,
        multitask: hook.multitask,
        trigger: { kind: "webhook", hookId, ...(deliveryId ? { deliveryId } : {}) },
      });
    } catch (error) {
      if (!ThreadlineError.is(error, "CONFLICT")) throw error;
      return c.json({ duplicate: true, ...(deliveryId ? { deliveryId } : {}) }, 200);
    }
    return c.json({ runId: result.runId, threadId, status: result.status }, 202);
  });
  return app;
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
