import { ThreadlineError } from "./errors.js";
import type { ThreadPatch } from "./types.js";

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * JSON Merge Patch (RFC 7386): an object merges key by key (recursively), `null` removes a key,
 * anything else replaces the value. A patch that is not an object replaces the whole target.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Json = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/**
 * The metadata a thread has after `patch`: the one rule every store applies inside its own
 * transaction (read, patch, write). The result is a JSON copy, as every store keeps it.
 */
export function patchedMetadata(current: Json, patch: ThreadPatch): Json {
  if (patch.metadata === undefined) return current;
  if (!isObject(patch.metadata)) {
    throw new ThreadlineError("VALIDATION_FAILED", "a thread's metadata patch must be an object");
  }
  const text = JSON.stringify(mergePatch(current, patch.metadata));
  return JSON.parse(text) as Json;
}
