/** RFC 6901 JSON pointer lookup (`""` is the whole document, `/a/0/b` walks into it). */
export function getPointer(doc: unknown, pointer: string): unknown {
  if (pointer === "") return doc;
  let value: unknown = doc;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(value) && /^\d+$/.test(key)) value = value[Number(key)];
    else if (value !== null && typeof value === "object" && Object.hasOwn(value, key)) {
      value = (value as Record<string, unknown>)[key];
    } else return undefined;
  }
  return value;
}

const PLACEHOLDER = /\{\{\s*((?:\/[^}]*)?)\s*\}\}/g;
const WHOLE = /^\{\{\s*((?:\/[^}]*)?)\s*\}\}$/;

/**
 * Fills `{{/json/pointer}}` placeholders in every string of a template from `payload`
 * (`{{}}` is the whole payload). A string that is exactly one placeholder takes the value as is
 * (objects stay objects); placeholders inside longer text become text (JSON for non-strings).
 */
export function fillTemplate<T>(template: T, payload: unknown): T {
  const fill = (node: unknown): unknown => {
    if (typeof node === "string") {
      const whole = WHOLE.exec(node);
      if (whole) return getPointer(payload, whole[1] ?? "") ?? null;
      return node.replace(PLACEHOLDER, (_m, p: string) => {
        const v = getPointer(payload, p);
        return v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
      });
    }
    if (Array.isArray(node)) return node.map(fill);
    if (node !== null && typeof node === "object") {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, fill(v)]));
    }
    return node;
  };
  return fill(template) as T;
}
