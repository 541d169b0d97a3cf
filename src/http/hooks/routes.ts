import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ThreadlineError } from "../../core/errors.js";
import { HEADER_DELIVERY, HEADER_SIGNATURE } from "../../protocol.js";
import type { Threadline } from "../../threadline.js";
import { pathId } from "../validation.js";
import { type CompiledHook, compileHooks } from "./hook-config.js";
import { verifySignature } from "./signature.js";

const DELIVERY_ID = /^[\x21-\x7e]{1,200}$/;

/**
 * `POST /hooks/:hookId`. Webhook senders authenticate with the HMAC signature, not the bearer
 * token, so these routes are mounted before the token middleware and bring their own body limit.
 */
export function hookRoutes(tl: Threadline, opts: { maxBytes: number }): Hono {
  const hooks = compileHooks(tl.options.hooks ?? [], tl.coordinator.agentIds());
  const app = new Hono();
  app.use(
    "/hooks/*",
    bodyLimit({
      maxSize: opts.maxBytes,
      onError: () => {
        throw new ThreadlineError(
          "PAYLOAD_TOO_LARGE",
          `request body exceeds ${opts.maxBytes} bytes`,
        );
      },
    }),
  );

  app.post("/hooks/:hookId", async (c) => {
    await tl.ready;
    const hookId = pathId(c, "hookId");
    const hook = hooks.get(hookId);
    if (!hook) throw new ThreadlineError("HOOK_NOT_FOUND", `unknown hook '${hookId}'`);
    const body = new Uint8Array(await c.req.arrayBuffer());
    const verified = verifySignature({
      header: c.req.header(HEADER_SIGNATURE),
      body,
      secrets: hook.secrets,
      nowMs: tl.scheduler.clock.now(),
      ...(hook.toleranceSec === undefined ? {} : { toleranceSec: hook.toleranceSec }),
    });
    const deliveryId = c.req.header(HEADER_DELIVERY);
    if (deliveryId !== undefined && !DELIVERY_ID.test(deliveryId)) {
      throw new ThreadlineError(
        "BAD_REQUEST",
        `${HEADER_DELIVERY} must be 1-200 printable ASCII characters without spaces`,
      );
    }
    const payload = parsePayload(body);
    const delivery = { hookId, headers: c.req.raw.headers, ...(deliveryId ? { deliveryId } : {}) };
    const { threadId, input } = await mapDelivery(hook, payload, delivery);

    // Claimed only once the delivery is known to be valid, so a rejected one can be retried.
    // Without a delivery id the signature itself names the request: a replay is still caught.
    const key = `hook:${hookId}:${deliveryId ?? `sig:${verified.signature}`}`;
    if (!(await tl.store.claim(key, tl.coordinator.instanceId, tl.scheduler.clock.now()))) {
      return c.json({ duplicate: true, ...(deliveryId ? { deliveryId } : {}) }, 200);
    }
    const result = await tl.startRun({
      threadId,
      agentId: hook.agentId,
      input,
      multitask: hook.multitask,
      trigger: { kind: "webhook", hookId, ...(deliveryId ? { deliveryId } : {}) },
    });
    return c.json({ runId: result.runId, threadId, status: result.status }, 202);
  });
  return app;
}

function parsePayload(body: Uint8Array): unknown {
  const text = new TextDecoder().decode(body);
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ThreadlineError(
      "INVALID_JSON",
      `webhook body is not valid JSON: ${(error as Error).message}`,
    );
  }
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
