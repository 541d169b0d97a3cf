import { z } from "zod";
import { ThreadlineError } from "../../core/errors.js";
import {
  type InputTemplate,
  inputTemplateSchema,
  materializeInput,
} from "../../core/scheduler/index.js";
import type { MultitaskStrategy, RunInput } from "../../core/types.js";
import { describeIssues, idSchema, multitaskSchema } from "../validation.js";
import { fillTemplate, getPointer } from "./json-pointer.js";

/** What a hook's mapping functions get besides the payload. */
export interface HookDelivery {
  hookId: string;
  deliveryId?: string;
  headers: Headers;
}

/** A webhook declared in options. */
export interface HookConfig {
  /** The path segment: `POST /hooks/<id>`. */
  id: string;
  /** HMAC secret; several during a rotation (any one may sign). */
  secret: string | string[];
  agentId: string;
  /**
   * The thread a delivery runs on: a fixed thread id, a JSON pointer into the payload
   * (`/repository/name`, recognised by its leading slash), or a function.
   */
  thread: string | ((payload: unknown, delivery: HookDelivery) => string | Promise<string>);
  /**
   * The run's input: a template whose strings may hold `{{/json/pointer}}` placeholders (message
   * ids are assigned per delivery), or a function. Default: a user message with the payload.
   */
  input?:
    | InputTemplate
    | ((payload: unknown, delivery: HookDelivery) => RunInput | Promise<RunInput>);
  /** Default `enqueue`. */
  multitask?: MultitaskStrategy;
  /** Allowed clock skew of the signature timestamp, seconds. Default 300. */
  toleranceSec?: number;
}

/** A validated hook, ready for deliveries. */
export interface CompiledHook {
  id: string;
  secrets: string[];
  agentId: string;
  multitask: MultitaskStrategy;
  toleranceSec?: number;
  threadFor(payload: unknown, delivery: HookDelivery): Promise<string>;
  inputFor(payload: unknown, delivery: HookDelivery): Promise<RunInput>;
}

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", {
  message: "must be a function",
});

export const hookSchema = z.strictObject({
  id: idSchema,
  secret: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
    message: "must be a non-empty string or a non-empty array of strings",
  }),
  agentId: idSchema,
  thread: z.union([idSchema, z.string().regex(/^\//), fn], {
    message: "must be a thread id, a JSON pointer starting with '/', or a function",
  }),
  input: z.union([inputTemplateSchema, fn]).optional(),
  multitask: multitaskSchema.optional(),
  toleranceSec: z.number().positive().optional(),
});

const badPayload = (message: string) => new ThreadlineError("BAD_REQUEST", message);

/** Validates declared hooks at start-up (unknown agent, duplicate id, bad mapping → throws). */
export function compileHooks(
  hooks: readonly HookConfig[],
  agentIds: readonly string[],
): Map<string, CompiledHook> {
  const out = new Map<string, CompiledHook>();
  hooks.forEach((hook, i) => {
    const parsed = hookSchema.safeParse(hook);
    if (!parsed.success) {
      throw new ThreadlineError(
        "VALIDATION_FAILED",
        `invalid hooks[${i}]: ${describeIssues(parsed.error)}`,
      );
    }
    if (out.has(hook.id)) {
      throw new ThreadlineError("VALIDATION_FAILED", `hook id '${hook.id}' is declared twice`);
    }
    if (!agentIds.includes(hook.agentId)) {
      throw new ThreadlineError(
        "VALIDATION_FAILED",
        `invalid hooks[${i}]: unknown agent '${hook.agentId}'; known agents: ${agentIds.join(", ")}`,
      );
    }
    out.set(hook.id, {
      id: hook.id,
      secrets: typeof hook.secret === "string" ? [hook.secret] : [...hook.secret],
      agentId: hook.agentId,
      multitask: hook.multitask ?? "enqueue",
      ...(hook.toleranceSec === undefined ? {} : { toleranceSec: hook.toleranceSec }),
      threadFor: threadMapper(hook.thread),
      inputFor: inputMapper(hook.input),
    });
  });
  return out;
}

function threadMapper(thread: HookConfig["thread"]): CompiledHook["threadFor"] {
  return async (payload, delivery) => {
    let value: unknown;
    if (typeof thread === "function") value = await thread(payload, delivery);
    else if (thread.startsWith("/")) {
      value = getPointer(payload, thread);
      if (value === undefined || value === null) {
        throw badPayload(`the payload has no value at ${thread} (the hook's thread id)`);
      }
    } else value = thread;
    const id = idSchema.safeParse(typeof value === "number" ? String(value) : value);
    if (!id.success) {
      throw badPayload(`the payload maps to an invalid thread id: ${describeIssues(id.error)}`);
    }
    return id.data;
  };
}

function inputMapper(input: HookConfig["input"]): CompiledHook["inputFor"] {
  return async (payload, delivery) => {
    if (typeof input === "function") return input(payload, delivery);
    if (input) return materializeInput(fillTemplate(input, payload));
    return materializeInput({
      messages: [
        {
          role: "user",
          content: `Webhook '${delivery.hookId}' delivered:\n${JSON.stringify(payload)}`,
        },
      ],
      forwardedProps: {
        webhook: {
          hookId: delivery.hookId,
          ...(delivery.deliveryId ? { deliveryId: delivery.deliveryId } : {}),
          payload,
        },
      },
    });
  };
}
