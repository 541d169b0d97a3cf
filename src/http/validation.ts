import type { Message } from "@ag-ui/core";
import type { Context } from "hono";
import { z } from "zod";
import { ThreadlineError } from "../core/errors.js";
import { historyWindowSchema } from "../core/history-window.js";
import { addMessageIssues } from "../core/message-issues.js";
import { resumeSchema } from "../core/resume-schema.js";
import { MULTITASK_STRATEGIES } from "../core/types.js";

/** Thread, run and agent ids: printable, no slashes in practice, bounded. */
export const idSchema = z
  .string()
  .min(1, "must not be empty")
  .max(200, "must be at most 200 characters")
  .regex(/^[A-Za-z0-9._:@~-]+$/, "may contain only letters, digits and . _ : @ ~ -");

/** AG-UI messages are validated by @ag-ui/core's own schema, each problem at its field. */
export const messageSchema = z
  .unknown()
  .superRefine(addMessageIssues) as unknown as z.ZodType<Message>;

export const multitaskSchema = z.enum(MULTITASK_STRATEGIES);

export const startRunBodySchema = z.strictObject({
  agentId: idSchema,
  runId: idSchema.optional(),
  messages: z.array(messageSchema).max(10_000).optional(),
  state: z.unknown().optional(),
  forwardedProps: z.unknown().optional(),
  tools: z.array(z.looseObject({ name: z.string() })).optional(),
  context: z.array(z.looseObject({ description: z.string(), value: z.string() })).optional(),
  multitask: multitaskSchema.optional(),
  /** The part of the thread's history the agent is given (`history-window.ts`). */
  history: historyWindowSchema.optional(),
  /** Answers to the thread's pending interrupts (AG-UI `RunAgentInput.resume`, `interrupts.ts`). */
  resume: resumeSchema.optional(),
  /**
   * Who is asking: `client` for a person at a UI, `api` (default) for programs. Server-side kinds
   * (schedule, heartbeat, webhook) cannot be claimed over HTTP.
   */
  trigger: z
    .strictObject({ kind: z.enum(["client", "api"]), source: z.string().max(200).optional() })
    .optional(),
});

export const createThreadBodySchema = z.strictObject({
  threadId: idSchema.optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** `PATCH /threads/:id`: a JSON Merge Patch (RFC 7386) of the thread's metadata. */
export const patchThreadBodySchema = z.strictObject({
  metadata: z.record(z.string(), z.unknown()),
});

/** Formats zod issues as one readable sentence per problem: `messages.0.role: ...`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length ? `${i.path.join(".")}: ` : ""}${i.message}`)
    .join("; ");
}

export function parseWith<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ThreadlineError(
      "VALIDATION_FAILED",
      `invalid ${what}: ${describeIssues(result.error)}`,
      {
        details: result.error.issues.map((i) => ({ path: i.path, message: i.message })),
      },
    );
  }
  return result.data;
}

/**
 * Deepest nesting of objects and arrays a request body may have. Real payloads (messages, state,
 * tool schemas) stay far below it; deeper documents are what stack overflows in validation,
 * copies and drivers are made of, so they are refused before anything walks them.
 */
export const MAX_JSON_DEPTH = 64;

/** The nesting depth of JSON text exceeds `max` (one pass over the text, strings skipped). */
export function jsonTooDeep(text: string, max: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string, escapes included.
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c) i++;
        else if (s === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/**
 * Parses JSON text from a caller: 400 INVALID_JSON when it is malformed or nested deeper than
 * `MAX_JSON_DEPTH`; blank text is `{}`.
 */
export function parseJsonText(text: string, what = "request body"): unknown {
  if (text.trim() === "") return {};
  if (jsonTooDeep(text)) {
    throw new ThreadlineError(
      "INVALID_JSON",
      `${what} is nested deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ThreadlineError(
      "INVALID_JSON",
      `${what} is not valid JSON: ${(error as Error).message}`,
    );
  }
}

/** Reads a JSON body: 400 INVALID_JSON for malformed or too deep JSON, then validates it. */
export async function jsonBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  let text: string;
  try {
    text = await c.req.text();
  } catch (error) {
    if (ThreadlineError.is(error)) throw error;
    throw new ThreadlineError("BAD_REQUEST", "could not read the request body", { cause: error });
  }
  return parseWith(schema, parseJsonText(text), "request body");
}

export function pathId(c: Context, name: string): string {
  return parseWith(idSchema, c.req.param(name), `path parameter '${name}'`);
}
