import { createHash } from "node:crypto";

const ALLOWED = /[A-Za-z0-9._:@-]/;
const MAX = 200;

/**
 * A valid thread id made from any text, one-to-one: characters a thread id may not hold become
 * `~` and two hex digits (`acme/app` → `acme~2Fapp`; `~` itself is `~7E`, so two texts never map
 * to the same id). Longer than 200 characters: cut, and ended with `~~` and a hash of the whole text.
 * Webhook thread templates and JSON pointers go through it; use it in a thread function too.
 */
export function safeThreadId(text: string): string {
  let out = "";
  for (const ch of text) {
    if (ALLOWED.test(ch)) out += ch;
    else {
      for (const byte of new TextEncoder().encode(ch)) {
        out += `~${byte.toString(16).toUpperCase().padStart(2, "0")}`;
      }
    }
  }
  if (out.length <= MAX) return out;
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 16);
  // `~~` never comes out of the escaping (a `~` there is always followed by hex digits).
  return `${out.slice(0, MAX - hash.length - 2)}~~${hash}`;
}
