import { Hono } from "hono";
import type { Threadline } from "../../threadline.js";

/** CopilotKit v2 wire routes (placeholder until implemented). */
export function copilotkitRoutes(_tl: Threadline): Hono {
  return new Hono();
}
