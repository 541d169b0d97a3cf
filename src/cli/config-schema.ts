import { z } from "zod";
import { EXPIRY_ACTIONS } from "../core/interrupt-expiry.js";
import { retentionPolicySchema } from "../core/retention.js";
import { scheduleInputSchema } from "../core/scheduler/schedule-schema.js";
import { hookSchema } from "../http/hooks/hook-config.js";
import { idSchema } from "../http/validation.js";
import { lineOfPath } from "./config-source.js";

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", {
  message: "must be a function",
});

const agent = z.custom(
  (v) =>
    typeof v === "function" ||
    (typeof v === "object" &&
      v !== null &&
      typeof (v as { runAgent?: unknown }).runAgent === "function"),
  {
    message:
      "must be an AG-UI agent (an AbstractAgent, e.g. new HttpAgent({ url })) or a function returning one",
  },
);

const positiveInt = z.number().int("must be a whole number").positive("must be positive");

/** Every key a config file may set; anything else is a mistake worth reporting. */
export const configSchema = z
  .strictObject({
    store: z.string().min(1, "must not be empty"),
    agents: z.record(idSchema, agent),
    logger: z.custom((v) => typeof v === "object" && v !== null, { message: "must be a logger" }),
    token: z.string().min(1, "must not be empty"),
    authorize: fn,
    jwt: z
      .strictObject({
        secret: z.string().min(32, "must be at least 32 characters").optional(),
        jwksUrl: z.url("must be a URL").optional(),
        issuer: z.union([z.string(), z.array(z.string())]).optional(),
        audience: z.union([z.string(), z.array(z.string())]).optional(),
        clockToleranceSec: z.number().min(0, "must not be negative").optional(),
        algorithms: z.array(z.string()).optional(),
        threadsClaim: z.string().min(1).optional(),
      })
      .refine((j) => (j.secret === undefined) !== (j.jwksUrl === undefined), {
        message: "needs exactly one of `secret` and `jwksUrl`",
      }),
    followUrlSecret: z.string().min(16, "must be at least 16 characters"),
    followUrlTtlMs: positiveInt,
    metrics: z.union([
      z.literal(false),
      z.strictObject({ open: z.boolean().optional(), processMetrics: z.boolean().optional() }),
    ]),
    tracing: z.boolean(),
    telemetry: z.custom((v) => typeof v === "object" && v !== null, {
      message: "must be a telemetry object",
    }),
    keepaliveMs: positiveInt,
    followerWriteTimeoutMs: z.number().int("must be a whole number").min(0, "must be 0 or more"),
    maxBodyBytes: positiveInt,
    inspector: z.boolean(),
    cors: z.union([z.boolean(), z.array(z.string())], {
      message: "must be true, false or a list of origins",
    }),
    leaseMs: z.number().int("must be a whole number").min(500, "must be at least 500"),
    instanceId: z.string().min(1, "must not be empty"),
    schedules: z.array(
      scheduleInputSchema.refine((s) => s.id !== undefined, {
        message: "needs an `id` (schedules in the config file are upserted by it)",
      }),
    ),
    hooks: z.array(hookSchema),
    clock: z.custom((v) => typeof v === "object" && v !== null, { message: "must be a clock" }),
    retention: retentionPolicySchema.extend({
      sweepMs: z.number().int().min(0).optional(),
      batchEvents: positiveInt.optional(),
    }),
    history: z.record(
      idSchema,
      z.strictObject({ lastMessages: positiveInt.optional(), build: fn.optional() }),
    ),
    interrupts: z.strictObject({
      onExpiry: z.enum(EXPIRY_ACTIONS).optional(),
      agents: z.record(idSchema, z.enum(EXPIRY_ACTIONS)).optional(),
      pollMs: positiveInt.optional(),
    }),
    scheduler: z.strictObject({
      syncMs: positiveInt.optional(),
      misfireGraceMs: z.number().int().min(0).optional(),
    }),
  })
  .partial();

/** `schedules[#1].cron`: items are numbered from 1, as a person counts them. */
export function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[#${key + 1}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

/** Known keys of the object schema at `path` (for "did you mean"). */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: unknown = schema;
  const step = (n: unknown): unknown => {
    const def = (n as { def?: { type?: string; innerType?: unknown; in?: unknown } }).def;
    if (def?.type === "optional" || def?.type === "nullable" || def?.type === "default") {
      return step(def.innerType);
    }
    if (def?.type === "pipe") return step(def.in);
    return n;
  };
  for (const key of path) {
    node = step(node);
    const def = (node as { def: { type: string; element?: unknown; shape?: object } }).def;
    if (typeof key === "number" && def.type === "array") node = def.element;
    else if (typeof key === "string" && def.type === "object" && def.shape) {
      node = (def.shape as Record<string, unknown>)[key];
    } else return [];
  }
  node = step(node);
  const shape = (node as { def?: { shape?: object } }).def?.shape;
  return shape ? Object.keys(shape) : [];
}

/** Levenshtein distance, for suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(
        cur + 1,
        (row[j - 1] as number) + 1,
        prev + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1),
      );
      prev = cur;
    }
  }
  return row[b.length] as number;
}

/** The closest known key, when it is close enough to be a likely typo. */
export function suggest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

/**
 * One line per problem: `<file>:<line>: <key path>: <what is wrong>`, unknown keys with a
 * suggestion. The line is found in the source when the key is written literally there.
 */
export function describeConfigIssues(
  error: z.ZodError,
  file: string,
  source: string | undefined,
): string {
  const lines = error.issues.slice(0, 10).map((issue) => {
    const unknown = issue.code === "unrecognized_keys" ? issue.keys : [];
    const first = unknown[0];
    const where = first === undefined ? issue.path : [...issue.path, first];
    const line =
      source === undefined ? undefined : lineOfPath(source, where as (string | number)[]);
    const at = `${file}${line === undefined ? "" : `:${line}`}`;
    if (first !== undefined) {
      const known = keysAt(configSchema, issue.path);
      const parts = unknown.map((k) => {
        const s = suggest(k, known);
        return `'${k}'${s ? ` (did you mean '${s}'?)` : ""}`;
      });
      const scope = issue.path.length ? ` in ${pathText(issue.path)}` : "";
      return `${at}: unknown key${unknown.length > 1 ? "s" : ""} ${parts.join(", ")}${scope}; known keys: ${known.join(", ")}`;
    }
    return `${at}: ${issue.path.length ? `${pathText(issue.path)}: ` : ""}${issue.message}`;
  });
  const more = error.issues.length - lines.length;
  return lines.join("\n") + (more > 0 ? `\n(${more} more problems)` : "");
}
