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
import { safeThreadId } from "./thread-id.js";
import { BUILTIN_VERIFIERS, type BuiltinVerifierName, type WebhookVerifier } from "./verifiers.js";

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
  /**
   * Who signs the deliveries, and so how they are checked: `threadline` (default,
   * `X-Threadline-Signature`), `github` (`X-Hub-Signature-256`), `stripe` (`Stripe-Signature`),
   * `standard-webhooks` (`webhook-id`/`-timestamp`/`-signature`, Svix and others), or your own
   * `WebhookVerifier`. Retries are recognised by the provider's delivery id.
   */
  provider?: BuiltinVerifierName | WebhookVerifier;
  /**
   * The signing secret; several during a rotation (any one may sign). As the provider shows it:
   * GitHub's webhook secret, Stripe's endpoint secret `whsec_...`, a Standard Webhooks `whsec_...`.
   */
  secret: string | string[];
  agentId: string;
  /**
   * The thread a delivery runs on: a fixed thread id; a JSON pointer into the payload
   * (`/repository/full_name`, recognised by its leading slash); a template with `{{/pointer}}`
   * placeholders (`github:{{/repository/full_name}}`); or a function. Text from the payload is
   * made a valid id with `safeThreadId` (`acme/app` → `acme~2Fapp`); a function must return a
   * valid id (it may call `safeThreadId` itself).
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
  verifier: WebhookVerifier;
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

const verifierSchema = z.union(
  [
    z.enum(Object.keys(BUILTIN_VERIFIERS) as [BuiltinVerifierName, ...BuiltinVerifierName[]]),
    z.custom<WebhookVerifier>(
      (v) =>
        typeof v === "object" &&
        v !== null &&
        typeof (v as { verify?: unknown }).verify === "function" &&
        typeof (v as { name?: unknown }).name === "string",
    ),
  ],
  {
    message: `must be one of ${Object.keys(BUILTIN_VERIFIERS).join(", ")} or a verifier { name, verify(request) }`,
  },
);

export const hookSchema = z.strictObject({
  id: idSchema,
  provider: verifierSchema.optional(),
  secret: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
    message: "must be a non-empty string or a non-empty array of strings",
  }),
  agentId: idSchema,
  thread: z.union([idSchema, z.string().regex(/^\/|\{\{/), fn], {
    message:
      "must be a thread id, a JSON pointer starting with '/', a template with {{/pointer}} placeholders, or a function",
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
    const verifier =
      typeof hook.provider === "object"
        ? hook.provider
        : BUILTIN_VERIFIERS[hook.provider ?? "threadline"];
    const secrets = typeof hook.secret === "string" ? [hook.secret] : [...hook.secret];
    for (const secret of secrets) {
      try {
        verifier.checkSecret?.(secret);
      } catch (error) {
        throw new ThreadlineError(
          "VALIDATION_FAILED",
          `invalid hooks[${i}]: secret: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    out.set(hook.id, {
      id: hook.id,
      verifier,
      secrets,
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
    if (typeof thread === "function") {
      const value = await thread(payload, delivery);
      const id = idSchema.safeParse(typeof value === "number" ? String(value) : value);
      if (!id.success) {
        throw badPayload(
          `the hook's thread function returned an invalid thread id: ${describeIssues(id.error)} (safeThreadId() makes one from any text)`,
        );
      }
      return id.data;
    }
    if (thread.includes("{{")) {
      const text = fillTemplate(thread, payload);
      for (const m of thread.matchAll(/\{\{\s*(\/[^}]*?)?\s*\}\}/g)) {
        const v = getPointer(payload, m[1] ?? "");
        if (v === undefined || v === null || v === "") {
          throw badPayload(
            `the payload has no value at ${m[1] ?? "(root)"} (the hook's thread id template)`,
          );
        }
      }
      return safeThreadId(text);
    }
    if (thread.startsWith("/")) {
      const value = getPointer(payload, thread);
      if (value === undefined || value === null || value === "") {
        throw badPayload(`the payload has no value at ${thread} (the hook's thread id)`);
      }
      if (typeof value === "object") {
        throw badPayload(
          `the payload's ${thread} is an object, not a thread id: point at a string or number`,
        );
      }
      return safeThreadId(String(value));
    }
    return thread;
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
